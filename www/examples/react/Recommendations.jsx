// edgerec in React: open one EdgeRec per page, then ask it from effects.
// `history` is React state (an array of item ids); a new array means the
// shopper viewed something, and the shelf asks again.
import { useEffect, useState } from 'react';
import { EdgeRec } from 'edgerec';

let opening = null;
/** The page's one EdgeRec, opened on first use. */
export function edgeRec() {
  opening ??= EdgeRec.open({ channel: 'channel/' });
  return opening;
}

/** "Recommended for you" for `history`, newest answer wins. */
export function ForYou({ history, k = 10 }) {
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let current = true; // a slower, older answer must not overwrite a newer one
    edgeRec()
      .then((rec) => rec.forShopper({ history, k }))
      .then((next) => current && setAnswer(next), (failure) => current && setError(failure));
    return () => { current = false; };
  }, [history, k]);
  if (error) return <p className="error">{error.code}: {error.message}</p>;
  if (!answer) return <p>Loading…</p>;
  return (
    <ol id="for-you" data-version={answer.version} data-source={answer.source}>
      {answer.items.map((item) => <li key={item.id} data-id={item.id}>{item.title}</li>)}
    </ol>
  );
}
