import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ForYou } from './Recommendations.jsx';

function Shop() {
  const [history, setHistory] = useState(['1', '50']);
  const view = (id) => setHistory((items) => [...items.filter((other) => other !== id), id]);
  return (
    <main>
      <h1>edgerec in React</h1>
      <button id="view-181" onClick={() => view('181')}>View Return of the Jedi</button>
      <p id="history">{history.join(', ')}</p>
      <ForYou history={history} />
    </main>
  );
}

createRoot(document.getElementById('root')).render(<Shop />);
