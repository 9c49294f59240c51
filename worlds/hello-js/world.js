// hello World in JavaScript: guess the number (docs/protocol.md, "The hello game").
'use strict';
const wwm = require((process.env.WWM_SERVER_DIR || __dirname) + '/wwm.js');

let x = 1, secret = 0, low = 1, high = 100, hits = 0, steps = 0;

function newSecret() {
  x = (x * 75 + 74) % 65537;
  secret = (x % 100) + 1;
}

const show = () => `low: ${low}\nhigh: ${high}\n`;

wwm.serveWorld({
  reset(seed) {
    x = ((seed % 65537) + 65537) % 65537; // JS's % can be negative
    newSecret();
    return show();
  },
  step(action) {
    steps++;
    const guess = wwm.parseInt(action);
    let reward = 0;
    if (guess === null) {
      reward = -1; // not an integer: state unchanged
    } else if (guess === secret) {
      reward = 1;
      hits++;
      low = 1;
      high = 100;
      newSecret();
    } else if (guess < secret) {
      low = guess + 1;
    } else {
      high = guess - 1;
    }
    return [show(), reward, false];
  },
  score: () => `${hits}\nsteps: ${steps}\n`,
});
