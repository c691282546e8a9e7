//! Personalised search on the real MovieLens catalog of the committed bundle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use edgerec::Engine;

fn engine() -> Engine {
    Engine::load(&common::default_bundle()).expect("default bundle loads")
}

fn titles(answer: &edgerec::Recommendations) -> Vec<&str> {
    answer.items.iter().map(|r| r.title.as_str()).collect()
}

#[test]
fn an_exact_title_ranks_that_title_first() {
    let engine = engine();
    let no_history: [&str; 0] = [];
    let items = engine.catalog().items();
    let shopper = ["50", "172", "181", "1", "71"];
    for item in items.iter().step_by(17) {
        for history in [&no_history[..], &shopper[..]] {
            let answer = engine.search(&item.title, 5, history).unwrap();
            let first = answer.items.first().map(|r| r.title.as_str());
            assert_eq!(first, Some(item.title.as_str()), "query {:?}, history {history:?}", item.title);
        }
    }
}

#[test]
fn two_shoppers_get_different_orders_for_an_ambiguous_query() {
    let engine = engine();
    let sci_fi_fan = ["50", "172", "181"]; // Star Wars trilogy
    let drama_fan = ["275", "483", "69", "88"]; // Sense and Sensibility, Casablanca, Forrest Gump, Sleepless in Seattle
    let for_fan = engine.search("star", 10, &sci_fi_fan).unwrap();
    let for_drama = engine.search("star", 10, &drama_fan).unwrap();
    assert_ne!(titles(&for_fan), titles(&for_drama));
    for answer in [&for_fan, &for_drama] {
        assert!(answer.items.iter().all(|r| r.title.to_lowercase().contains("star")), "{:?}", titles(answer));
    }
    // Without a history the order is the text order alone, and differs from both.
    let no_history: [&str; 0] = [];
    let plain = engine.search("star", 10, &no_history).unwrap();
    assert_ne!(titles(&plain), titles(&for_fan));
    assert_ne!(titles(&plain), titles(&for_drama));
}

#[test]
fn categories_are_searchable_and_no_match_is_an_empty_answer() {
    let engine = engine();
    let no_history: [&str; 0] = [];
    let noir = engine.search("film noir", 50, &no_history).unwrap();
    assert!(!noir.items.is_empty());
    let empty = engine.search("zzzqqq", 10, &no_history).unwrap();
    assert!(empty.items.is_empty());
    let skipped = engine.search("star", 3, &["nope"]).unwrap();
    assert_eq!(skipped.skipped, vec!["nope"]);
    assert_eq!(engine.search("star", 0, &no_history).unwrap_err().code(), "invalid_k");
}

/// Misspelled and half-typed queries a shopper might write, each with the
/// title it means: typos by word length, run-together words, prefixes.
const MISSPELLED: &[(&str, &str)] = &[
    ("strar wars ", "Star Wars (1977)"),
    ("godfater ", "Godfather, The (1972)"),
    ("godfather prat II ", "Godfather: Part II, The (1974)"),
    ("toy stroy ", "Toy Story (1995)"),
    ("fargoo ", "Fargo (1996)"),
    ("titanc ", "Titanic (1997)"),
    ("jurasic park ", "Jurassic Park (1993)"),
    ("terminatr ", "Terminator, The (1984)"),
    ("braveheart ", "Braveheart (1995)"),
    ("schindlers list ", "Schindler's List (1993)"),
    ("shawshank redemtion ", "Shawshank Redemption, The (1994)"),
    ("pulp fictoin ", "Pulp Fiction (1994)"),
    ("independance day ", "Independence Day (ID4) (1996)"),
    ("casablanka ", "Casablanca (1942)"),
    ("raiders of the lost ark ", "Raiders of the Lost Ark (1981)"),
    ("empire strikes bak ", "Empire Strikes Back, The (1980)"),
    ("silence of the lambs ", "Silence of the Lambs, The (1991)"),
    ("forest gump ", "Forrest Gump (1994)"),
    ("usual suspekts ", "Usual Suspects, The (1995)"),
    ("twelve monkies ", "Twelve Monkeys (1995)"),
    ("shawsh", "Shawshank Redemption, The (1994)"),
    ("jurass", "Jurassic Park (1993)"),
    ("godfath", "Godfather, The (1972)"),
    ("casabl", "Casablanca (1942)"),
];

#[test]
fn misspelled_and_half_typed_queries_find_what_they_mean() {
    let engine = engine();
    let no_history: [&str; 0] = [];
    let mut first = 0;
    let mut in_top_5 = 0;
    for &(query, title) in MISSPELLED {
        let answer = engine.search(query, 5, &no_history).unwrap();
        let found = titles(&answer);
        first += usize::from(found.first() == Some(&title));
        in_top_5 += usize::from(found.contains(&title));
        if !found.contains(&title) {
            println!("{query:?}: {found:?}");
        }
    }
    let n = MISSPELLED.len() as f64;
    println!(
        "misspelled queries: precision@1 {:.2}, found in the top 5 {:.2} ({} queries)",
        first as f64 / n,
        in_top_5 as f64 / n,
        MISSPELLED.len()
    );
    assert!(in_top_5 as f64 >= 0.9 * n, "{in_top_5} of {} in the top 5", MISSPELLED.len());
    // "scifi" runs "sci" and "fi" together: Sci-Fi films.
    let scifi = engine.search("scifi ", 10, &no_history).unwrap();
    assert_eq!(scifi.items.len(), 10);
    for item in &scifi.items {
        let row = engine.catalog().index_of(&item.id).unwrap();
        assert!(engine.catalog().item(row).categories.iter().any(|c| c == "Sci-Fi"), "{}", item.title);
    }
    // An exact word still beats a typo match of another.
    let exact = engine.search("star ", 1, &no_history).unwrap();
    assert!(exact.items[0].title.contains("Star"), "{:?}", titles(&exact));
}
