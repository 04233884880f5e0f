// Compiles Settlement.sol with the pinned solc-js and writes
// out/Settlement.json (ABI, creation bytecode, compiler and settings).
// `--check` compiles and fails if the committed artifact differs.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const dir = __dirname;
const source = fs.readFileSync(path.join(dir, 'Settlement.sol'), 'utf8');
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none', appendCBOR: false },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};
const input = { language: 'Solidity', sources: { 'Settlement.sol': { content: source } }, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
const c = output.contracts['Settlement.sol'].Settlement;
const artifact = {
  contractName: 'Settlement',
  compiler: solc.version(),
  settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion },
  abi: c.abi,
  bytecode: '0x' + c.evm.bytecode.object,
  deployedBytecode: '0x' + c.evm.deployedBytecode.object,
};
const text = JSON.stringify(artifact, null, 2) + '\n';
const out = path.join(dir, 'out', 'Settlement.json');
if (process.argv.includes('--check')) {
  const committed = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
  if (committed !== text) {
    console.error('contracts/out/Settlement.json does not match Settlement.sol: run `npm run build --prefix contracts`');
    process.exit(1);
  }
  console.log('contracts/out/Settlement.json matches Settlement.sol (' + solc.version() + ')');
} else {
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  fs.writeFileSync(out, text);
  console.log('wrote ' + out + ' (' + (c.evm.deployedBytecode.object.length / 2) + ' bytes deployed)');
}
