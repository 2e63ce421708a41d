#!/usr/bin/env node
// A third-party OSC 1.1 peer for the SLIP-over-TCP tests: osc.js (npm "osc" 2.4.5), whose
// TCPSocketPort frames packets with double-END SLIP. Loopback only.
//
//   node osc_slip_peer.js send PORT JSON_MESSAGES   connects to 127.0.0.1:PORT, sends each message
//       ([{"address": "/ch/1/gain_db", "args": [{"type": "f", "value": -3}]}, ...]) and prints
//       every reply as one JSON line; exits 0 once each message has a reply, 1 after 5 s.
//   node osc_slip_peer.js receive COUNT   listens on 127.0.0.1 (system-chosen port), prints
//       "port N", then one JSON line per message received; exits 0 after COUNT messages, 1 after 10 s.
//
// Finds the osc package through NODE_PATH (the copied peers folder's node_modules).
'use strict';
const net = require('net');
const osc = require('osc');

const HOST = '127.0.0.1';

/// One line per message: its address and its arguments as osc.js decodes them with metadata.
/// osc.js emits "message" once for each message, bundle members included.
function printMessage(message) {
  console.log(JSON.stringify({ address: message.address, args: message.args }));
}

function send(port, messages) {
  const connection = new osc.TCPSocketPort({ address: HOST, port, metadata: true });
  let replies = 0;
  connection.on('ready', () => messages.forEach((message) => connection.send(message)));
  connection.on('message', (message) => {
    printMessage(message);
    replies += 1;
    if (replies >= messages.length) {
      connection.close();
      process.exit(0);
    }
  });
  connection.on('error', (error) => {
    console.error('osc_slip_peer: ' + error.message);
    process.exit(1);
  });
  connection.open();
  setTimeout(() => {
    console.error(`osc_slip_peer: ${replies} of ${messages.length} replies within 5 s`);
    process.exit(1);
  }, 5000);
}

function receive(count) {
  let received = 0;
  const server = net.createServer((socket) => {
    const connection = new osc.TCPSocketPort({ socket, metadata: true });
    connection.on('message', (message) => {
      printMessage(message);
      received += 1;
      if (received >= count) {
        process.exit(0);
      }
    });
    connection.on('error', (error) => console.error('osc_slip_peer: ' + error.message));
  });
  server.listen(0, HOST, () => console.log('port ' + server.address().port));
  setTimeout(() => {
    console.error(`osc_slip_peer: ${received} of ${count} messages within 10 s`);
    process.exit(1);
  }, 10000);
}

const [mode, value, json] = process.argv.slice(2);
if (mode === 'send') {
  send(Number(value), JSON.parse(json));
} else if (mode === 'receive') {
  receive(Number(value));
} else {
  console.error('usage: osc_slip_peer.js send PORT JSON_MESSAGES | receive COUNT');
  process.exit(2);
}
