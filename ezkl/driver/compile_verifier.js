// Compiles the verifier contract ezkl rendered (Solidity source, argv[3])
// with the solc-js package at argv[2] (the pinned one in
// contracts/node_modules/solc) and prints one JSON object: the compiler,
// the creation code and the runtime code, hex. Settings as the settlement
// contract's: optimizer on (200 runs), cancun, no metadata hash, so the
// runtime code, whose keccak-256 a job pins, is the same on every machine.
'use strict';
const fs = require('fs');
const solc = require(process.argv[2]);
const source = fs.readFileSync(process.argv[3], 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'Verifier.sol': { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  console.log(JSON.stringify({ error: errors.map((e) => e.formattedMessage).join('\n') }));
  process.exit(0);
}
const contracts = Object.values(out.contracts['Verifier.sol'] || {});
if (contracts.length !== 1) {
  console.log(JSON.stringify({ error: 'expected one contract, got ' + contracts.length }));
  process.exit(0);
}
const c = contracts[0];
console.log(JSON.stringify({
  compiler: solc.version(),
  creation: c.evm.bytecode.object,
  runtime: c.evm.deployedBytecode.object,
}));
