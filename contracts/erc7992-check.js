// An ERC-7992 client that knows nothing of zkgate but the draft's
// interface: it reads a call's arguments from a JSON file (node URL,
// contract, model id, input commitment, output, proof, a signer key),
// checks the contract's ERC-165 answers and model record, sends
// verifyInference as a transaction and reads its InferenceVerified event,
// then checks that a changed output, a changed input commitment and an
// unknown model are refused. Prints what it saw as JSON; exits 1 on any
// difference.
'use strict';
const fs = require('fs');
const { ethers } = require('ethers');

const abi = [
  'function supportsInterface(bytes4 id) view returns (bool)',
  'function registerModel((bytes32 modelHash, bytes32 circuitHash, bytes32 vkHash, bytes4 proofSystemId, string uri) commitment) returns (uint256)',
  'function updateModel(uint256 modelId, (bytes32 modelHash, bytes32 circuitHash, bytes32 vkHash, bytes4 proofSystemId, string uri) newCommitment)',
  'function deprecateModel(uint256 modelId)',
  'function getModel(uint256 modelId) view returns ((bytes32 modelHash, bytes32 circuitHash, bytes32 vkHash, bytes4 proofSystemId, string uri) commitment, bool deprecated, address owner)',
  'function verifyInference(uint256 modelId, bytes32 inputCommitment, bytes output, bytes proof)',
  'function proofSystemOf(uint256 modelId) view returns (bytes4)',
  'function registry() view returns (address)',
  'event InferenceVerified(uint256 indexed modelId, bytes32 indexed inputCommitment, bytes output, address indexed caller)',
];

function selector(sig) {
  return ethers.dataSlice(ethers.id(sig), 0, 4);
}

function xor(sigs) {
  let x = 0n;
  for (const s of sigs) x ^= BigInt(selector(s));
  return ethers.toBeHex(x, 4);
}

async function refused(promise) {
  try {
    await promise;
    return false;
  } catch (e) {
    return true;
  }
}

async function main() {
  const args = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const provider = new ethers.JsonRpcProvider(args.rpc);
  const signer = new ethers.Wallet(args.key, provider);
  const c = new ethers.Contract(args.contract, abi, signer);
  const registryId = xor([
    'registerModel((bytes32,bytes32,bytes32,bytes4,string))',
    'updateModel(uint256,(bytes32,bytes32,bytes32,bytes4,string))',
    'deprecateModel(uint256)',
    'getModel(uint256)',
  ]);
  const verifierId = xor([
    'verifyInference(uint256,bytes32,bytes,bytes)',
    'proofSystemOf(uint256)',
    'registry()',
  ]);
  const seen = {
    erc165: await c.supportsInterface('0x01ffc9a7'),
    registry_interface: await c.supportsInterface(registryId),
    verifier_interface: await c.supportsInterface(verifierId),
    proof_system: await c.proofSystemOf(args.model_id),
    groth16_bn254: selector('groth16-bn254-v1'),
  };
  const [commitment, deprecated] = await c.getModel(args.model_id);
  seen.vk_hash = commitment.vkHash;
  seen.deprecated = deprecated;
  const tx = await c.verifyInference(args.model_id, args.input_commitment, args.output, args.proof);
  const receipt = await tx.wait();
  const log = receipt.logs.map((l) => c.interface.parseLog(l)).find((l) => l && l.name === 'InferenceVerified');
  seen.verified = Boolean(log) && receipt.status === 1;
  seen.event = log
    ? {
        model_id: log.args.modelId.toString(),
        input_commitment: log.args.inputCommitment,
        output: log.args.output,
        caller: log.args.caller,
      }
    : null;
  seen.gas_used = receipt.gasUsed.toString();
  seen.changed_output_refused = await refused(
    c.verifyInference.staticCall(args.model_id, args.input_commitment, args.changed_output, args.proof),
  );
  seen.changed_input_refused = await refused(
    c.verifyInference.staticCall(args.model_id, ethers.ZeroHash, args.output, args.proof),
  );
  seen.unknown_model_refused = await refused(
    c.verifyInference.staticCall(999, args.input_commitment, args.output, args.proof),
  );
  seen.update_refused = await refused(c.updateModel.staticCall(args.model_id, commitment));
  console.log(JSON.stringify(seen));
  const ok =
    seen.erc165 && seen.registry_interface && seen.verifier_interface &&
    seen.proof_system === seen.groth16_bn254 && !seen.deprecated && seen.verified &&
    seen.event.model_id === String(args.model_id) && seen.event.output === args.output &&
    seen.event.input_commitment === args.input_commitment &&
    seen.changed_output_refused && seen.changed_input_refused && seen.unknown_model_refused &&
    seen.update_refused;
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
