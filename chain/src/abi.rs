//! The Settlement contract's interface (`contracts/Settlement.sol`) and its
//! compiled artifact. A test checks every selector here against the ABI
//! solc wrote, so the two cannot drift apart.

// The generated `JobOpened` constructor takes one argument per event field.
#![allow(clippy::too_many_arguments)]

use alloy_sol_types::sol;

sol! {
    /// The settlement contract.
    #[derive(Debug, PartialEq)]
    contract Settlement {
        struct Dataset { address owner; uint64 rows; bool retired; uint256 commitment; bytes32 schemaHash; uint256 price; uint256 pricePerRow; }
        struct Verifier { address data; uint64 shardRows; uint32 inputs; uint32 keys; }
        struct Job {
            address researcher; uint64 datasetId; uint64 deadline; uint8 status; address payee;
            uint64 rows; bytes32 verifier; uint256 commitment; uint256 escrow; bytes32 question; bytes32 circuits; uint256 charge;
        }
        struct Shard { uint256 key; uint256 offset; uint256 linkIn; uint256 linkOut; uint256[8] proof; }
        struct Bounty {
            address sponsor; uint64 datasetId; uint64 closes; uint64 deadline; uint8 metric; bool voidIfWithheld;
            bool ended; uint32 version; uint32 entries; uint32 settled; address template; uint32 templateSize;
            uint256 commitment; uint256 prize; uint256 entryFee;
        }
        struct Terms {
            uint64 datasetId; uint256 commitment; uint8 metric; uint32 version; uint64 closes; uint64 deadline;
            uint256 entryFee; bool voidIfWithheld;
        }

        event DatasetRegistered(uint256 indexed id, address indexed owner, uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price);
        event DatasetUpdated(uint256 indexed id, uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price);
        event DatasetRetired(uint256 indexed id);
        event RowPriceSet(uint256 indexed id, uint256 pricePerRow);
        event VerifierRegistered(bytes32 indexed id, address data, uint32 keys, uint32 inputs, uint64 shardRows);
        event JobOpened(uint256 indexed id, uint256 indexed datasetId, address indexed researcher, bytes32 verifier, bytes32 question, uint256[] circuitIds, uint256 nonce, uint256 escrow, uint64 deadline);
        event JobSettled(uint256 indexed id, bytes32 verifier, uint256[] values, address payee, uint256 amount);
        event AuditAnchored(address indexed owner, uint256 entries, bytes32 head);
        event JobRefunded(uint256 indexed id, address researcher, uint256 amount);
        event PaymentOwed(address indexed to, uint256 amount);
        event BountyOpened(uint256 indexed id, uint256 indexed datasetId, address indexed sponsor, uint8 metric, uint256 prize, uint256 entryFee, uint64 closes, uint64 deadline, bool voidIfWithheld, bytes32 templateHash);
        event BountyEntered(uint256 indexed id, uint256 indexed job, address indexed researcher, uint32 entry);
        event EntryScored(uint256 indexed id, uint256 indexed job, uint256 score);
        event BountyFinalized(uint256 indexed id, uint256 winner, address paidTo, uint256 prize, uint32 withheld, uint256[] ranking, uint256[] scores);
        event BountyCancelled(uint256 indexed id);
        event EzklHashPublished(uint256 indexed id, uint256 hash);

        error UnknownDataset(uint256 id);
        error NotOwner();
        error DatasetRetiredError(uint256 id);
        error BadDataset();
        error UnknownVerifier(bytes32 id);
        error BadKeys();
        error LowEscrow(uint256 price);
        error BadDeadline();
        error NotOpen(uint256 id);
        error Expired(uint256 id);
        error NotExpired(uint256 id);
        error WrongVerifier(bytes32 expected);
        error BadShard(uint256 shard);
        error InputNotInField(uint256 shard);
        error InvalidProof(uint256 shard);
        error TransferFailed();
        error CommitmentChanged(uint256 current);
        error QuestionUsed(uint256 job);
        error BadCircuits();
        error CircuitNotPinned(uint256 circuit);
        error UnknownBounty(uint256 id);
        error BadBounty();
        error BountyClosed(uint256 id);
        error WrongFee(uint256 fee);
        error InBounty(uint256 bounty);
        error NotTheQuestion(uint256 circuit);
        error BountyNotOver(uint256 id);
        error BountyEnded(uint256 id);
        error EntriesSettled(uint256 id);

        function datasetCount() external view returns (uint256);
        function jobCount() external view returns (uint256);
        function registerDataset(uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price) external returns (uint256 id);
        function updateDataset(uint256 id, uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price) external;
        function retireDataset(uint256 id) external;
        function setRowPrice(uint256 id, uint256 pricePerRow) external;
        function priceOf(uint256 id) external view returns (uint256);
        function dataset(uint256 id) external view returns (Dataset memory);
        function registerVerifier(bytes calldata bundle, uint32 keys, uint32 inputs) external returns (bytes32 id);
        function verifier(bytes32 id) external view returns (Verifier memory);
        function jobOfQuestion(address researcher, bytes32 question) external view returns (uint256);
        function questionNonce(address researcher, bytes32 question) external view returns (uint256);
        function jobNonce(uint256 id) external view returns (uint256);
        function openJob(uint256 datasetId, uint256 commitment, bytes32 question, uint256[] calldata circuitIds, bytes32 verifierId, uint64 deadline) external payable returns (uint256 id);
        function job(uint256 id) external view returns (Job memory);
        function result(uint256 id) external view returns (uint256[] memory);
        function settle(uint256 id, bytes32 verifierId, uint256[] calldata circuitIds, uint256[] calldata values, Shard[] calldata shards) external;
        function anchorAudit(uint256 entries, bytes32 head) external;
        function refund(uint256 id) external;
        function owed(address who) external view returns (uint256);
        function withdraw() external;
        function bountyCount() external view returns (uint256);
        function bountyOf(uint256 job) external view returns (uint256);
        function scoreOf(uint256 job) external view returns (uint256);
        function openBounty(Terms calldata t, bytes calldata template) external payable returns (uint256 id);
        function bounty(uint256 id) external view returns (Bounty memory);
        function bountyEntries(uint256 id) external view returns (uint256[] memory);
        function bountyTemplate(uint256 id) external view returns (bytes memory);
        function enterBounty(uint256 bountyId, bytes32 question, uint256[] calldata circuitIds) external payable returns (uint256 id);
        function settleEntry(uint256 id, bytes32 verifierId, uint256[] calldata circuitIds, uint256[] calldata values, Shard[] calldata shards, bytes calldata tail) external;
        function finalizeBounty(uint256 bountyId) external;
        function cancelBounty(uint256 bountyId) external;
        function verifyProof(bytes32 verifierId, uint256 key, uint256[] calldata inputs, uint256[8] calldata proof) external view returns (bool);
        function ezklHashOf(uint256 id) external view returns (uint256);
        function ezklVerifierOf(uint256 code) external view returns (address);
        function publishEzklHash(uint256 id, uint256 hash) external;
        function addEzklVerifier(address verifier_) external returns (uint256 code);
        function settleEzkl(uint256 id, uint256[] calldata circuitIds, bytes calldata call) external;
    }

    /// The verifier contract ezkl renders for a circuit (halo2-solidity-verifier).
    #[derive(Debug, PartialEq)]
    contract Halo2Verifier {
        function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
    }
}

/// `contracts/out/Settlement.json` as solc-js wrote it.
pub const ARTIFACT: &str = include_str!("../../contracts/out/Settlement.json");

/// The contract's creation bytecode.
pub fn bytecode() -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(ARTIFACT).expect("the artifact is JSON");
    let hex_code = v["bytecode"].as_str().expect("the artifact has bytecode");
    hex::decode(hex_code.trim_start_matches("0x")).expect("bytecode is hex")
}

/// Job states as the contract numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No such job.
    None,
    /// Escrowed, waiting for proofs.
    Open,
    /// Proved and paid.
    Settled,
    /// Refunded after its deadline.
    Refunded,
}

impl Status {
    /// The contract's number.
    pub fn from_u8(x: u8) -> Status {
        match x {
            1 => Status::Open,
            2 => Status::Settled,
            3 => Status::Refunded,
            _ => Status::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;
    use serde_json::Value;

    /// A parameter's canonical type: tuples spelled out.
    fn canonical(p: &Value) -> String {
        let ty = p["type"].as_str().unwrap();
        match ty.strip_prefix("tuple") {
            Some(suffix) => {
                let inner: Vec<String> = p["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(canonical)
                    .collect();
                format!("({}){suffix}", inner.join(","))
            }
            None => ty.to_string(),
        }
    }

    fn signatures(artifact: &str, kind: &str) -> Vec<Vec<u8>> {
        let v: Value = serde_json::from_str(artifact).unwrap();
        let mut out: Vec<Vec<u8>> = v["abi"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| {
                let args: Vec<String> = e["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(canonical)
                    .collect();
                let sig = format!("{}({})", e["name"].as_str().unwrap(), args.join(","));
                let h = keccak256(sig.as_bytes());
                if kind == "event" {
                    h.to_vec()
                } else {
                    h[..4].to_vec()
                }
            })
            .collect();
        out.sort();
        out
    }

    fn sorted<const N: usize>(s: &[[u8; N]]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = s.iter().map(|x| x.to_vec()).collect();
        v.sort();
        v
    }

    #[test]
    fn interface_matches_the_compiled_abi() {
        assert_eq!(
            sorted(Settlement::SettlementCalls::SELECTORS),
            signatures(ARTIFACT, "function")
        );
        assert_eq!(
            sorted(Settlement::SettlementErrors::SELECTORS),
            signatures(ARTIFACT, "error")
        );
        assert_eq!(
            sorted(Settlement::SettlementEvents::SELECTORS),
            signatures(ARTIFACT, "event")
        );
        assert!(bytecode().len() > 1000);
    }

    #[test]
    fn the_erc_7992_interface_matches_its_compiled_abi() {
        use crate::erc7992::{Inference as I, ARTIFACT as A};
        assert_eq!(
            sorted(I::InferenceCalls::SELECTORS),
            signatures(A, "function")
        );
        assert_eq!(
            sorted(I::InferenceErrors::SELECTORS),
            signatures(A, "error")
        );
        assert_eq!(
            sorted(I::InferenceEvents::SELECTORS),
            signatures(A, "event")
        );
    }
}
