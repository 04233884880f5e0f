// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity 0.8.30;

/// ERC-7992 (draft): the model registry.
interface IERCZKMLRegistry {
    struct ModelCommitment {
        bytes32 modelHash;
        bytes32 circuitHash;
        bytes32 vkHash;
        bytes4 proofSystemId;
        string uri;
    }

    event ModelRegistered(uint256 indexed modelId, address indexed owner, ModelCommitment commitment);
    event ModelUpdated(uint256 indexed modelId, ModelCommitment oldCommitment, ModelCommitment newCommitment);
    event ModelDeprecated(uint256 indexed modelId);

    function registerModel(ModelCommitment calldata commitment) external returns (uint256 modelId);
    function updateModel(uint256 modelId, ModelCommitment calldata newCommitment) external;
    function deprecateModel(uint256 modelId) external;
    function getModel(uint256 modelId)
        external
        view
        returns (ModelCommitment memory commitment, bool deprecated, address owner);
}

/// ERC-7992 (draft): the inference verifier.
interface IERCZKMLVerifier {
    event InferenceVerified(
        uint256 indexed modelId, bytes32 indexed inputCommitment, bytes output, address indexed caller
    );

    function verifyInference(uint256 modelId, bytes32 inputCommitment, bytes calldata output, bytes calldata proof)
        external;
    function proofSystemOf(uint256 modelId) external view returns (bytes4);
    function registry() external view returns (address registryAddress);
}

/// The part of zkgate's Settlement contract this one reads: its registry of
/// Groth16 key bundles and its proof check.
interface ISettlementKeys {
    struct Verifier {
        address data;
        uint64 shardRows;
        uint32 inputs;
        uint32 keys;
    }

    function verifier(bytes32 id) external view returns (Verifier memory);
    function verifyProof(bytes32 verifierId, uint256 key, uint256[] calldata inputs, uint256[8] calldata proof)
        external
        view
        returns (bool);
}

/// @title zkgate inference (ERC-7992)
/// @notice ERC-7992's registry and verifier over the key bundles of zkgate's
/// Settlement contract, for one-shard receipts: "this model, over the rows
/// of the committed dataset, bound to this nonce, gives these aggregate
/// values".
///
/// - A model is a one-key bundle registered on the Settlement contract:
///   `vkHash` is its bundle id there, `circuitHash` its key's circuit id
///   (checked at registration), `modelHash` the ONNX file's SHA-256 (which
///   the circuit id covers through the circuit's header), `proofSystemId`
///   the first four bytes of keccak256("groth16-bn254-v1").
/// - `inputCommitment` is keccak256(abi.encode(keccak256("zkgate.erc7992.
///   input.v1"), commitment, rows, nonce)): the dataset's hiding Poseidon
///   commitment, its row count and the job nonce the proof is bound to
///   (the draft's replay protection).
/// - `output` is abi.encode(uint256[] values), the aggregate values as
///   field elements; `proof` is abi.encode(commitment, rows, nonce,
///   uint256[8] proof).
/// - Models are immutable: `updateModel` always reverts; a new key is a new
///   `modelId`. `deprecateModel` (its registrant) stops verification.
contract Inference is IERCZKMLRegistry, IERCZKMLVerifier {
    bytes4 public constant GROTH16_BN254 = bytes4(keccak256("groth16-bn254-v1"));
    bytes32 internal constant INPUT_TAG = keccak256("zkgate.erc7992.input.v1");
    /// Public inputs before the values (see the Settlement contract).
    uint256 internal constant FIXED_INPUTS = 8;

    struct Model {
        ModelCommitment commitment;
        address owner;
        bool deprecated;
    }

    ISettlementKeys public immutable settlement;
    uint256 public modelCount;
    mapping(uint256 => Model) internal models_;

    error ModelNotFound(uint256 modelId);
    error NotModelOwner(uint256 modelId, address caller);
    error ModelImmutable(uint256 modelId);
    error InvalidProof();
    error ModelMismatch();
    error InputCommitmentMismatch();
    error OutputMismatch();
    error UnsupportedProofSystem(bytes4 proofSystemId);
    error VerificationRefused_ModelDeprecated(uint256 modelId);

    constructor(ISettlementKeys settlement_) {
        settlement = settlement_;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x01ffc9a7 || id == type(IERCZKMLRegistry).interfaceId
            || id == type(IERCZKMLVerifier).interfaceId;
    }

    /// Registers a one-shard circuit's key (a bundle of one key on the
    /// Settlement contract) as a model.
    function registerModel(ModelCommitment calldata c) external returns (uint256 modelId) {
        if (c.proofSystemId != GROTH16_BN254) revert UnsupportedProofSystem(c.proofSystemId);
        ISettlementKeys.Verifier memory v = settlement.verifier(c.vkHash);
        if (v.data == address(0) || v.keys != 1) revert ModelMismatch();
        bytes32 circuit;
        address data = v.data;
        assembly ("memory-safe") {
            // The bundle's code: a STOP byte, then the key (circuit id first).
            extcodecopy(data, 0x00, 1, 0x20)
            circuit := mload(0x00)
        }
        if (circuit != c.circuitHash) revert ModelMismatch();
        modelId = ++modelCount;
        models_[modelId] = Model(c, msg.sender, false);
        emit ModelRegistered(modelId, msg.sender, c);
    }

    /// Refused: a registered key never changes under its id.
    function updateModel(uint256 modelId, ModelCommitment calldata) external pure {
        revert ModelImmutable(modelId);
    }

    function deprecateModel(uint256 modelId) external {
        Model storage m = model(modelId);
        if (m.owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
        m.deprecated = true;
        emit ModelDeprecated(modelId);
    }

    function getModel(uint256 modelId)
        external
        view
        returns (ModelCommitment memory commitment, bool deprecated, address owner)
    {
        Model storage m = model(modelId);
        return (m.commitment, m.deprecated, m.owner);
    }

    function proofSystemOf(uint256 modelId) external view returns (bytes4) {
        return model(modelId).commitment.proofSystemId;
    }

    function registry() external view returns (address) {
        return address(this);
    }

    /// Verifies a one-shard proof of model `modelId`; reverts on any
    /// mismatch.
    function verifyInference(uint256 modelId, bytes32 inputCommitment, bytes calldata output, bytes calldata proof)
        external
    {
        Model storage m = model(modelId);
        if (m.deprecated) revert VerificationRefused_ModelDeprecated(modelId);
        check(m, inputCommitment, output, proof);
        emit InferenceVerified(modelId, inputCommitment, output, msg.sender);
    }

    /// Reverts unless `proof` is model `m`'s single-shard proof of `output`
    /// over the inputs `inputCommitment` commits to.
    function check(Model storage m, bytes32 inputCommitment, bytes calldata output, bytes calldata proof)
        internal
        view
    {
        (uint256 commitment, uint256 rows, uint256 nonce, uint256[8] memory p) =
            abi.decode(proof, (uint256, uint256, uint256, uint256[8]));
        if (keccak256(abi.encode(INPUT_TAG, commitment, rows, nonce)) != inputCommitment) {
            revert InputCommitmentMismatch();
        }
        uint256[] memory values = abi.decode(output, (uint256[]));
        bytes32 vk = m.commitment.vkHash;
        ISettlementKeys.Verifier memory v = settlement.verifier(vk);
        if (values.length + FIXED_INPUTS != v.inputs) revert OutputMismatch();
        // A single shard: offset 0, every row real (the rest of the
        // circuit's size padding), no links.
        uint256[] memory inputs = new uint256[](v.inputs);
        inputs[0] = commitment;
        inputs[1] = rows;
        inputs[2] = nonce;
        inputs[3] = uint256(m.commitment.circuitHash);
        inputs[5] = rows;
        for (uint256 k = 0; k < values.length; k++) {
            inputs[FIXED_INPUTS + k] = values[k];
        }
        if (rows == 0 || rows > v.shardRows || !settlement.verifyProof(vk, 0, inputs, p)) {
            revert InvalidProof();
        }
    }

    function model(uint256 modelId) internal view returns (Model storage m) {
        m = models_[modelId];
        if (m.owner == address(0)) revert ModelNotFound(modelId);
    }
}
