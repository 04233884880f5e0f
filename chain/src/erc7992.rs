//! ERC-7992 (draft, verifiable ML inference) over the Settlement contract's
//! key bundles: the `Inference` contract (`contracts/Inference.sol`), and
//! a one-shard receipt as its `verifyInference` arguments.

use crate::client::{Chain, TxReceipt, TxRequest, Wallet};
use crate::evm::fr_to_u256;
use crate::settlement::{values, Bundle, Settlement};
use crate::{Error, Result};
use alloy_primitives::{keccak256, Address, Bytes, FixedBytes, B256, U256};
use alloy_sol_types::{sol, SolCall, SolEvent, SolValue};
use zkgate_statement::field::fr_from_hex;
use zkgate_statement::groth16::VerifyingKey;
use zkgate_statement::Receipt;

sol! {
    /// ERC-7992's registry and verifier as `contracts/Inference.sol` has them.
    #[derive(Debug, PartialEq)]
    contract Inference {
        struct ModelCommitment { bytes32 modelHash; bytes32 circuitHash; bytes32 vkHash; bytes4 proofSystemId; string uri; }
        event ModelRegistered(uint256 indexed modelId, address indexed owner, ModelCommitment commitment);
        event ModelUpdated(uint256 indexed modelId, ModelCommitment oldCommitment, ModelCommitment newCommitment);
        event ModelDeprecated(uint256 indexed modelId);
        event InferenceVerified(uint256 indexed modelId, bytes32 indexed inputCommitment, bytes output, address indexed caller);
        error ModelNotFound(uint256 modelId);
        error NotModelOwner(uint256 modelId, address caller);
        error ModelImmutable(uint256 modelId);
        error InvalidProof();
        error ModelMismatch();
        error InputCommitmentMismatch();
        error OutputMismatch();
        error UnsupportedProofSystem(bytes4 proofSystemId);
        error VerificationRefused_ModelDeprecated(uint256 modelId);
        function GROTH16_BN254() external view returns (bytes4);
        function settlement() external view returns (address);
        function modelCount() external view returns (uint256);
        function supportsInterface(bytes4 id) external pure returns (bool);
        function registerModel(ModelCommitment calldata c) external returns (uint256 modelId);
        function updateModel(uint256 modelId, ModelCommitment calldata newCommitment) external;
        function deprecateModel(uint256 modelId) external;
        function getModel(uint256 modelId) external view returns (ModelCommitment memory commitment, bool deprecated, address owner);
        function proofSystemOf(uint256 modelId) external view returns (bytes4);
        function registry() external view returns (address);
        function verifyInference(uint256 modelId, bytes32 inputCommitment, bytes calldata output, bytes calldata proof) external;
    }
}

/// `contracts/out/Inference.json` as solc-js wrote it.
pub const ARTIFACT: &str = include_str!("../../contracts/out/Inference.json");

/// The draft's identifier of zkgate's proofs: the first four bytes of
/// keccak256("groth16-bn254-v1").
pub fn proof_system_id() -> FixedBytes<4> {
    FixedBytes::from_slice(&keccak256(b"groth16-bn254-v1")[..4])
}

/// What `verifyInference` takes for a one-shard receipt.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// keccak256 of the tag, the dataset commitment, its rows and the nonce.
    pub input_commitment: B256,
    /// `abi.encode(uint256[] values)`.
    pub output: Bytes,
    /// `abi.encode(commitment, rows, nonce, uint256[8] proof)`.
    pub proof: Bytes,
}

/// The input commitment of a proof over the dataset committed to by
/// `commitment` (`rows` rows), bound to `nonce`.
pub fn input_commitment(commitment: U256, rows: u64, nonce: U256) -> B256 {
    let tag = keccak256(b"zkgate.erc7992.input.v1");
    keccak256((tag, commitment, U256::from(rows), nonce).abi_encode())
}

/// A one-shard receipt as `verifyInference`'s arguments.
pub fn call(receipt: &Receipt) -> Result<Call> {
    if receipt.shards.len() != 1 {
        return Err(Error::Receipt(format!(
            "ERC-7992 takes one proof; this receipt has {} shards",
            receipt.shards.len()
        )));
    }
    let fr = |h: &str| fr_from_hex(h).map_err(|e| Error::Receipt(e.to_string()));
    let commitment = fr_to_u256(&fr(&receipt.commitment)?);
    let nonce = fr_to_u256(&fr(&receipt.nonce)?);
    let rows = receipt.rows;
    let proof = receipt.shards[0]
        .proof()
        .map_err(|e| Error::Receipt(e.to_string()))?;
    let words: [U256; 8] = crate::evm::EvmProof::new(&proof)
        .to_bytes()
        .chunks(32)
        .map(U256::from_be_slice)
        .collect::<Vec<_>>()
        .try_into()
        .expect("a proof is eight words");
    Ok(Call {
        input_commitment: input_commitment(commitment, rows, nonce),
        output: values(receipt)?.abi_encode().into(),
        proof: (commitment, U256::from(rows), nonce, words)
            .abi_encode_params()
            .into(),
    })
}

/// A deployed `Inference` contract.
#[derive(Debug)]
pub struct InferenceContract {
    chain: Chain,
    address: Address,
}

impl InferenceContract {
    /// Deploys it over the Settlement contract at `settlement`.
    pub async fn deploy(
        chain: Chain,
        from: &Wallet,
        settlement: Address,
    ) -> Result<InferenceContract> {
        let v: serde_json::Value = serde_json::from_str(ARTIFACT).expect("the artifact is JSON");
        let mut code = hex::decode(
            v["bytecode"]
                .as_str()
                .expect("the artifact has bytecode")
                .trim_start_matches("0x"),
        )
        .expect("bytecode is hex");
        code.extend_from_slice(&settlement.abi_encode());
        let r = chain
            .send(
                from,
                &TxRequest {
                    to: None,
                    data: code.into(),
                    value: U256::ZERO,
                    gas: None,
                },
            )
            .await?;
        let address = r
            .contract
            .ok_or_else(|| Error::Chain("the deployment created no contract".into()))?;
        Ok(InferenceContract { chain, address })
    }

    /// Its address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Registers the one-key bundle of a one-shard receipt's circuit
    /// (registering the bundle on `settlement` first if it is new) as a
    /// model; returns its id.
    pub async fn register_model(
        &self,
        from: &Wallet,
        settlement: &Settlement,
        receipt: &Receipt,
        vk: &VerifyingKey,
        uri: &str,
    ) -> Result<u64> {
        let bundle = Bundle::for_circuit(&receipt.circuit, vk)?;
        if !settlement.has_verifier(bundle.id()).await? {
            settlement.register_verifier(from, &bundle).await?;
        }
        let model = hex::decode(&receipt.circuit.onnx_sha256)
            .ok()
            .filter(|h| h.len() == 32)
            .ok_or_else(|| Error::Receipt("the model's SHA-256 is not 32 bytes of hex".into()))?;
        let c = Inference::ModelCommitment {
            modelHash: B256::from_slice(&model),
            circuitHash: B256::from(fr_to_u256(&receipt.circuit.id())),
            vkHash: bundle.id(),
            proofSystemId: proof_system_id(),
            uri: uri.into(),
        };
        let r = self.send(from, Inference::registerModelCall { c }).await?;
        let e = r
            .logs
            .iter()
            .filter(|l| l.address == self.address)
            .find_map(|l| {
                let log =
                    alloy_primitives::LogData::new_unchecked(l.topics.clone(), l.data.clone());
                Inference::ModelRegistered::decode_log_data(&log).ok()
            })
            .ok_or_else(|| Error::Chain("no ModelRegistered event".into()))?;
        Ok(e.modelId.to::<u64>())
    }

    /// Verifies `call` as model `model` (a transaction).
    pub async fn verify_inference(
        &self,
        from: &Wallet,
        model: u64,
        call: &Call,
    ) -> Result<TxReceipt> {
        self.send(
            from,
            Inference::verifyInferenceCall {
                modelId: U256::from(model),
                inputCommitment: call.input_commitment,
                output: call.output.clone(),
                proof: call.proof.clone(),
            },
        )
        .await
    }

    async fn send<C: SolCall>(&self, from: &Wallet, call: C) -> Result<TxReceipt> {
        self.chain
            .send_call(from, self.address, call, U256::ZERO)
            .await
    }
}
