#!/usr/bin/env node
// Runs the Node OCP.1 test device oca-mini-device.js with more OcaFilterParametric objects per
// zone than its fixed 4, for the 24-channel x 16-band push benchmark. It loads that script's
// source, changes only its per-zone filter count, and runs it unchanged otherwise.
// Usage: node oca-wide-device.cjs PORT --zones=N --bands=B --device=PATH/oca-mini-device.js
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const found = argv.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
};
const bands = parseInt(option('bands', '4'), 10);
const device = path.resolve(option('device', path.join(__dirname, 'oca-mini-device.js')));

const source = fs.readFileSync(device, 'utf8');
const loop = 'for (let b = 1; b <= 4; b++)';
if (!source.includes(loop)) {
  console.error(`error: ${device} has no '${loop}'; its filter loop changed, update this script`);
  process.exit(2);
}
// Band b gets ONo zone*10000 + 10 + b, so up to 9989 bands fit below the next zone's block.
const patched = source.replace(/^#!.*\n/, '').replace(loop, `for (let b = 1; b <= ${bands}; b++)`);
const deviceModule = new Module(device, null);
deviceModule.filename = device;
deviceModule.paths = Module._nodeModulePaths(path.dirname(device));
deviceModule._compile(patched, device);
