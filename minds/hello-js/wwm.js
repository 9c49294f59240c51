// wwm.js -- the World-Wide-Mind file protocol for JavaScript (Node >= 18, no npm packages).
//
// Usage (a Mind; the server folder holds a symlink wwm.js -> ../../wwm/lib/wwm.js):
//   const wwm = require((process.env.WWM_SERVER_DIR || __dirname) + '/wwm.js');
//   wwm.serveMind((state) => {
//     return '50\n';              // may also return a Promise
//   });
//
// A World:
//   wwm.serveWorld({
//     reset(seed) { ...; return firstState; },
//     step(action) { ...; return [state, reward, done]; },   // or {state, reward, done}
//     score() { return `${hits}\nsteps: ${steps}\n`; },
//   });
// The helper adds the reward to the state (a first line "reward: R" for text, a
// first child <reward>R</reward> for XML) and writes score, then done, then state.
//
// API (names are files in the working directory = the run directory):
//   await wwm.waitFor(name)   resolve once name exists; exit 0 once `stop` exists
//   wwm.take(name)            read the file (UTF-8) and delete it; null if absent
//   wwm.put(name, text)       write name.tmp, then rename it to name
//   wwm.parseInt(text)        the integer (optional sign, digits, surrounding
//                             whitespace, |n| < 10^9), or null
//
// Waiting: fs.watch on '.' (inotify on Linux) wakes the waiter; a timer re-checks
// every 100 ms in case an event is missed, or polls 1 ms doubling to 10 ms if
// fs.watch is unavailable. SIGTERM, SIGINT and SIGHUP exit 0.
'use strict';
const fs = require('fs');

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => process.exit(0));

let watcher; // undefined: not tried yet; null: unavailable
let wake = null; // resolves the pending waitFor's sleep

function watch() {
  if (watcher !== undefined) return watcher;
  try {
    watcher = fs.watch('.', () => { if (wake) wake(); });
    watcher.on('error', () => { watcher = null; }); // e.g. the directory was removed
  } catch (e) {
    watcher = null;
  }
  return watcher;
}

function gone() {
  try { return fs.statSync('.').nlink === 0; } catch (e) { return true; }
}

async function waitFor(name) {
  watch(); // set up before the first check, so no creation is missed
  let nap = 1;
  for (;;) {
    if (fs.existsSync('stop')) process.exit(0);
    if (fs.existsSync(name)) return;
    const ms = watcher ? 100 : nap;
    let timer;
    const woken = await new Promise((resolve) => {
      wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), ms);
    });
    wake = null;
    clearTimeout(timer);
    if (!watcher && nap < 10) nap = Math.min(nap * 2, 10);
    else if (!woken && gone()) process.exit(0);
  }
}

function take(name) {
  let text;
  try {
    text = fs.readFileSync(name, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
  try { fs.unlinkSync(name); } catch (e) { if (e.code !== 'ENOENT') throw e; }
  return text;
}

function put(name, text) {
  fs.writeFileSync(name + '.tmp', text);
  fs.renameSync(name + '.tmp', name);
}

function parseInt(text) {
  // explicit ASCII whitespace: \s would also match Unicode spaces
  const m = /^[ \t\n\r\f\v]*([-+]?)0*([0-9]+)[ \t\n\r\f\v]*$/.exec(String(text));
  if (!m || m[2].length > 9) return null;
  const n = Number(m[2]);
  return m[1] === '-' ? -n || 0 : n; // -0 becomes 0
}

async function serveMind(act) {
  for (;;) {
    await waitFor('state');
    const state = take('state');
    if (state === null) continue;
    let action = await act(state);
    action = action == null ? '' : String(action);
    if (!action.endsWith('\n')) action += '\n';
    put('action', action);
  }
}

// "reward: R" line for text; <reward>R</reward> after the root's start tag for XML.
function withReward(state, reward) {
  const r = String(reward);
  if (!state.startsWith('<')) return `reward: ${r}\n${state}`;
  const selfClosing = /^(<([^\s/>]+)[^>]*?)\/>/.exec(state);
  if (selfClosing) {
    return `${selfClosing[1]}><reward>${r}</reward></${selfClosing[2]}>` + state.slice(selfClosing[0].length);
  }
  const gt = state.indexOf('>');
  if (gt < 0) return `reward: ${r}\n${state}`;
  return state.slice(0, gt + 1) + `<reward>${r}</reward>` + state.slice(gt + 1);
}

async function serveWorld(w) {
  const seed = parseInt(process.env.WWM_SEED ?? '1') ?? 1;
  const first = await w.reset(seed);
  put('score', String(await w.score()));
  put('state', first == null ? '' : String(first)); // state last: score is already current
  for (;;) {
    await waitFor('action');
    const action = take('action');
    if (action === null) continue;
    const out = await w.step(action);
    let [state, reward, done] = Array.isArray(out) ? out : [out.state, out.reward, out.done];
    state = state == null ? '' : String(state);
    if (reward != null) state = withReward(state, Number(reward));
    put('score', String(await w.score()));
    if (done) put('done', '1\n');
    put('state', state);
  }
}

module.exports = { waitFor, take, put, parseInt, serveMind, serveWorld, withReward };
