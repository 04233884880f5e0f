// Compiles Settlement.sol and Inference.sol with the pinned solc-js and
// writes out/NAME.json for each (ABI, creation bytecode, compiler and
// settings).
// `--check` compiles and fails if the committed artifact differs.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const dir = __dirname;
const contracts = ['Settlement', 'Inference'];
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none', appendCBOR: false },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};
const sources = {};
for (const name of contracts) {
  sources[name + '.sol'] = { content: fs.readFileSync(path.join(dir, name + '.sol'), 'utf8') };
}
const input = { language: 'Solidity', sources, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
let stale = false;
for (const name of contracts) {
  const c = output.contracts[name + '.sol'][name];
  const artifact = {
    contractName: name,
    compiler: solc.version(),
    settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion },
    abi: c.abi,
    bytecode: '0x' + c.evm.bytecode.object,
    deployedBytecode: '0x' + c.evm.deployedBytecode.object,
  };
  const text = JSON.stringify(artifact, null, 2) + '\n';
  const out = path.join(dir, 'out', name + '.json');
  if (process.argv.includes('--check')) {
    const committed = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    if (committed !== text) {
      console.error('contracts/out/' + name + '.json does not match ' + name + '.sol: run `npm run build --prefix contracts`');
      stale = true;
    } else {
      console.log('contracts/out/' + name + '.json matches ' + name + '.sol (' + solc.version() + ')');
    }
  } else {
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    fs.writeFileSync(out, text);
    console.log('wrote ' + out + ' (' + (c.evm.deployedBytecode.object.length / 2) + ' bytes deployed)');
  }
}
if (stale) process.exit(1);
