//! int8 item matrices against the f32 ones they were rounded from, on the
//! committed bundle's real matrices and its parity inputs: the top 10 must
//! (nearly) agree, and the bytes must shrink to under 0.3x.
#![cfg(all(feature = "next-up", not(target_arch = "wasm32")))]

mod common;

use edgerec::bundle::ParityCase;
use edgerec::kernel::{Hit, ItemMatrix, QuantizedMatrix, RowSet};
use edgerec::models::{FactorModel, SequenceModel, SimilarItems};
use edgerec::Bundle;

fn int8(matrix: &ItemMatrix) -> ItemMatrix {
    let values: Vec<f32> = (0..matrix.rows()).flat_map(|row| matrix.row(row)).collect();
    ItemMatrix::I8(QuantizedMatrix::quantize(matrix.rows(), matrix.cols(), &values))
}

fn overlap(a: &[Hit], b: &[Hit]) -> f64 {
    let shared = a.iter().filter(|x| b.iter().any(|y| y.index == x.index)).count();
    shared as f64 / a.len().max(1) as f64
}

#[test]
fn int8_top_10s_agree_with_f32_on_the_parity_inputs() {
    let files = common::default_bundle();
    let bundle = Bundle::from_files(&files).unwrap();
    let (k, _, cases) = common::parity_cases(&files);
    let rows =
        |ids: &[String]| -> Vec<usize> { ids.iter().filter_map(|id| bundle.catalog.index_of(id)).collect() };

    let embeddings = bundle.similar.as_ref().unwrap();
    let (similar, similar_i8) = (SimilarItems::new(embeddings.clone()), SimilarItems::new(int8(embeddings)));
    let factors = bundle.factors.as_ref().unwrap();
    let lambda = factors.fold_in_lambda;
    let for_you = FactorModel::new(factors.items.clone(), lambda).unwrap();
    let for_you_i8 = FactorModel::new(int8(&factors.items), lambda).unwrap();
    let parts = bundle.next_up.as_ref().unwrap();
    let next_up = SequenceModel::new(
        parts.encoder.expect("the full build loads the encoder"),
        parts.items.clone(),
        parts.max_len,
    )
    .unwrap();
    let next_up_i8 = SequenceModel::new(
        parts.encoder.expect("the full build loads the encoder"),
        int8(&parts.items),
        parts.max_len,
    )
    .unwrap();

    let mut overlaps = Vec::new();
    for case in &cases {
        let (f32_hits, i8_hits) = match case {
            ParityCase::Similar { item, category: None, .. } => {
                let row = bundle.catalog.index_of(item).unwrap();
                (similar.similar(row, k, |_| true), similar_i8.similar(row, k, |_| true))
            }
            ParityCase::ForHistory { history, .. } => {
                let seen = RowSet::new(rows(history));
                (
                    for_you.for_history(&seen, k, |_| true).unwrap(),
                    for_you_i8.for_history(&seen, k, |_| true).unwrap(),
                )
            }
            ParityCase::NextUp { history, .. } => {
                let history = rows(history);
                (
                    next_up.next_up(&history, k, |_| true).unwrap(),
                    next_up_i8.next_up(&history, k, |_| true).unwrap(),
                )
            }
            _ => continue,
        };
        overlaps.push(overlap(&f32_hits, &i8_hits));
    }
    let mean = overlaps.iter().sum::<f64>() / overlaps.len() as f64;
    println!("int8 vs f32: mean top-{k} overlap {mean:.4} over {} parity inputs", overlaps.len());
    assert!(overlaps.len() >= 20, "{} parity inputs", overlaps.len());
    assert!(mean >= 0.99, "mean top-{k} overlap {mean:.4}: {overlaps:?}");
}

#[test]
fn int8_matrices_take_under_three_tenths_of_the_f32_bytes() {
    let files = common::default_bundle();
    let bundle = Bundle::from_files(&files).unwrap();
    for matrix in [bundle.similar.as_ref().unwrap(), &bundle.factors.as_ref().unwrap().items] {
        let ItemMatrix::I8(quantized) = int8(matrix) else { unreachable!() };
        let f32_bytes = matrix.rows() * matrix.cols() * 4;
        assert!((quantized.bytes() as f64) <= 0.3 * f32_bytes as f64, "{} of {f32_bytes}", quantized.bytes());
    }
}
