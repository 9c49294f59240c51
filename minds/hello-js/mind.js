// hello Mind in JavaScript: binary search for the hello World's secret number.
// State lines "low: L" and "high: H" (defaults 1 and 100); action: (L+H) floor-div 2.
'use strict';
const wwm = require((process.env.WWM_SERVER_DIR || __dirname) + '/wwm.js');

wwm.serveMind((state) => {
  const v = { low: 1, high: 100 };
  for (const line of state.split('\n')) {
    const m = /^(low|high):(.*)$/s.exec(line);
    const n = m && wwm.parseInt(m[2]);
    if (n !== null) v[m[1]] = n;
  }
  return `${Math.floor((v.low + v.high) / 2)}\n`;
});
