// edgerec in Vue: a reactive history (a ref holding an array) passed straight
// to edgerec; a watcher asks again whenever it changes.
import { createApp, ref, shallowRef, watch } from 'vue';
import { EdgeRec } from 'edgerec';

const opening = EdgeRec.open({ channel: 'channel/' });

createApp({
  setup() {
    const history = ref(['1', '50']); // history.value is a reactive Proxy, not a plain array
    const answer = shallowRef(null);
    const error = shallowRef(null);
    let asked = 0;
    watch(history, async (items) => {
      const ticket = ++asked; // the newest question's answer wins
      try {
        const next = await (await opening).forShopper({ history: items, k: 10 });
        if (ticket === asked) answer.value = next;
      } catch (failure) {
        if (ticket === asked) error.value = failure;
      }
    }, { deep: true, immediate: true });
    const view = (id) => {
      history.value = [...history.value.filter((other) => other !== id), id];
    };
    return { history, answer, error, view };
  },
  template: `
    <main>
      <h1>edgerec in Vue</h1>
      <button id="view-181" @click="view('181')">View Return of the Jedi</button>
      <p id="history">{{ history.join(', ') }}</p>
      <p v-if="error" class="error">{{ error.code }}: {{ error.message }}</p>
      <ol v-else-if="answer" id="for-you" :data-version="answer.version" :data-source="answer.source">
        <li v-for="item in answer.items" :key="item.id" :data-id="item.id">{{ item.title }}</li>
      </ol>
      <p v-else>Loading…</p>
    </main>`,
}).mount('#app');
