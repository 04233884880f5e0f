// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity 0.8.30;

// BN254 scalar field: public inputs are below it.
uint256 constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
// Bounty metrics: accuracy, balanced accuracy and F1 rank the higher score
// first; MSE and MAE the lower.
uint8 constant ACCURACY = 0;
uint8 constant BALANCED_ACCURACY = 1;
uint8 constant F1 = 2;
uint8 constant MSE = 3;
uint8 constant MAE = 4;
// Scores are fixed point with 27 decimals, rounded down.
uint256 constant SCALE = 1e27;
// Values are read below this (released counts and error sums are far
// smaller), so scores cannot overflow.
uint256 constant MAX_VALUE = 1 << 128;

/// @title zkgate settlement
/// @notice Dataset registry, Groth16 verifier registry and escrowed jobs.
/// A job is settled by Groth16 proofs (BN254, checked with the ecAdd, ecMul
/// and pairing precompiles) that the published aggregate values are the
/// result of the job's circuit over the rows of the dataset whose commitment
/// the owner registered, bound to this job; the dataset's owner is then
/// paid the job's charge (the dataset's price plus its price per row times
/// its rows, fixed when the job opened) and the rest of the escrow goes
/// back to the researcher. A job not settled by its deadline is refunded to
/// the researcher. Each job ends once, settled or refunded.
///
/// A job is opened by its researcher with the hash of their question (the
/// canonical document that pins the dataset, the model, the columns, the
/// aggregate, the quantization, epsilon and 32 random bytes) and the
/// circuit ids the job may settle with. The job nonce derives from the
/// question's hash, so each question is opened once and its nonce is fixed
/// by the researcher before anything is proved.
///
/// A proof's public inputs are, in order: the dataset commitment, the row
/// count, the job nonce, the circuit id, the shard's first row, the links
/// before and after the shard, then the values it publishes. Every one of
/// them but the values comes from this contract's own state. No shard
/// publishes a partial value: the links carry the running totals hidden,
/// every shard but the last publishes zeros and the last the job's values,
/// so the values are given once, for the last shard.
contract Settlement {
    /// BN254 base field.
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// Public inputs before the values (a circuit that releases cells
    /// exact takes the owner's suppression threshold as its first value).
    uint256 internal constant FIXED_INPUTS = 8;
    /// Settlements of this many shards or more check their proofs in one
    /// pairing (see `Batch`); fewer are checked one by one, which is cheaper
    /// when each shard size has its own key and so its own three pairs.
    uint256 internal constant BATCH_FROM = 3;
    /// EIP-170's limit on contract code.
    uint256 internal constant MAX_CODE = 24_576;
    /// Bytes of one key's fixed part: circuit id, rows, alpha, beta, gamma, delta.
    uint256 internal constant KEY_HEAD = 32 + 32 + 64 + 3 * 128;
    /// Most pins a job may have (an ezkl job's four).
    uint256 internal constant MAX_CIRCUITS = 4;

    struct Dataset {
        address owner;
        uint64 rows;
        bool retired;
        uint256 commitment;
        bytes32 schemaHash;
        /// Wei per job, plus `pricePerRow` for each row it proves.
        uint256 price;
        uint256 pricePerRow;
    }

    /// A bundle of verifying keys, one per shard size, kept as the code of
    /// a data contract (read with EXTCODECOPY, far cheaper than storage).
    struct Verifier {
        address data;
        uint64 shardRows;
        uint32 inputs;
        uint32 keys;
    }

    enum Status {
        None,
        Open,
        Settled,
        Refunded
    }

    struct Job {
        address researcher;
        uint64 datasetId;
        uint64 deadline;
        Status status;
        address payee;
        uint64 rows;
        bytes32 verifier;
        uint256 commitment;
        uint256 escrow;
        /// SHA-256 of the researcher's question (its canonical JSON).
        bytes32 question;
        /// keccak256 of the circuit ids the job may settle with, packed.
        bytes32 circuits;
        /// What settling it pays the owner: the dataset's price for its
        /// rows when it opened (the rest of the escrow is refunded).
        uint256 charge;
    }

    /// One shard proof of a settlement.
    struct Shard {
        uint256 key;
        uint256 offset;
        uint256 linkIn;
        uint256 linkOut;
        uint256[8] proof;
    }

    uint256 public datasetCount;
    uint256 public jobCount;
    mapping(uint256 => Dataset) internal datasets_;
    mapping(bytes32 => Verifier) internal verifiers_;
    mapping(uint256 => Job) internal jobs_;
    mapping(uint256 => uint256[]) internal results_;
    /// The job each researcher opened with each question: a question is
    /// opened once by its researcher (keyed by the researcher too, so that
    /// copying a pending question's hash blocks nobody).
    mapping(address => mapping(bytes32 => uint256)) public jobOfQuestion;

    event DatasetRegistered(
        uint256 indexed id, address indexed owner, uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price
    );
    event DatasetUpdated(uint256 indexed id, uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price);
    event DatasetRetired(uint256 indexed id);
    event RowPriceSet(uint256 indexed id, uint256 pricePerRow);
    event VerifierRegistered(bytes32 indexed id, address data, uint32 keys, uint32 inputs, uint64 shardRows);
    event JobOpened(
        uint256 indexed id,
        uint256 indexed datasetId,
        address indexed researcher,
        bytes32 verifier,
        bytes32 question,
        uint256[] circuitIds,
        uint256 nonce,
        uint256 escrow,
        uint64 deadline
    );
    event JobSettled(uint256 indexed id, bytes32 verifier, uint256[] values, address payee, uint256 amount);
    event JobRefunded(uint256 indexed id, address researcher, uint256 amount);
    event AuditAnchored(address indexed owner, uint256 entries, bytes32 head);

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

    // ---- datasets -------------------------------------------------------

    /// Registers a dataset's commitment; the sender owns it.
    function registerDataset(uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price)
        external
        returns (uint256 id)
    {
        if (commitment >= R || rows == 0) revert BadDataset();
        id = ++datasetCount;
        datasets_[id] = Dataset(msg.sender, rows, false, commitment, schemaHash, price, 0);
        emit DatasetRegistered(id, msg.sender, commitment, rows, schemaHash, price);
    }

    /// Replaces a dataset's commitment, shape or price (its owner only).
    /// Jobs already open keep the commitment they were opened against.
    function updateDataset(uint256 id, uint256 commitment, uint64 rows, bytes32 schemaHash, uint256 price) external {
        Dataset storage d = ownedDataset(id);
        if (commitment >= R || rows == 0) revert BadDataset();
        d.commitment = commitment;
        d.rows = rows;
        d.schemaHash = schemaHash;
        d.price = price;
        emit DatasetUpdated(id, commitment, rows, schemaHash, price);
    }

    /// Sets a dataset's price per row proved (its owner only). Jobs already
    /// open keep the charge they were opened with.
    function setRowPrice(uint256 id, uint256 pricePerRow) external {
        ownedDataset(id).pricePerRow = pricePerRow;
        emit RowPriceSet(id, pricePerRow);
    }

    /// What a job on dataset `id` costs now: its price plus its price per
    /// row times its rows.
    function priceOf(uint256 id) public view returns (uint256) {
        Dataset storage d = datasets_[id];
        return d.price + d.pricePerRow * d.rows;
    }

    /// Retires a dataset (its owner only): no new job may name it.
    function retireDataset(uint256 id) external {
        ownedDataset(id).retired = true;
        emit DatasetRetired(id);
    }

    function dataset(uint256 id) external view returns (Dataset memory) {
        return datasets_[id];
    }

    function ownedDataset(uint256 id) internal view returns (Dataset storage d) {
        d = datasets_[id];
        if (d.owner == address(0)) revert UnknownDataset(id);
        if (d.owner != msg.sender) revert NotOwner();
        if (d.retired) revert DatasetRetiredError(id);
    }

    // ---- verifiers ------------------------------------------------------

    /// Registers a bundle of `keys` verifying keys with `inputs` public
    /// inputs each; its id is `keccak256(keys, inputs, bundle)` (packed:
    /// 4 + 4 bytes, then the bundle), so a bundle cannot be registered under
    /// another shape. Each key is its circuit id, its shard rows, then
    /// alpha, beta, gamma, delta and the `inputs + 1` IC points in the
    /// EVM's encodings. Keys are in strictly decreasing shard rows, the
    /// first for full shards. The bundle becomes contract code, so it is at
    /// most 24,575 bytes (EIP-170): one key of up to 374 inputs, two of up
    /// to 179. Registering a bundle again returns its id.
    function registerVerifier(bytes calldata bundle, uint32 keys, uint32 inputs) external returns (bytes32 id) {
        id = keccak256(abi.encodePacked(keys, inputs, bundle));
        if (verifiers_[id].data != address(0)) return id;
        uint256 size = KEY_HEAD + 64 * (uint256(inputs) + 1);
        if (keys == 0 || inputs < FIXED_INPUTS || bundle.length != size * keys || bundle.length >= MAX_CODE) {
            revert BadKeys();
        }
        uint256 last = type(uint64).max;
        for (uint256 k = 0; k < keys; k++) {
            uint256 circuit = uint256(bytes32(bundle[k * size:k * size + 32]));
            uint256 rows = uint256(bytes32(bundle[k * size + 32:k * size + 64]));
            if (circuit >= R || rows == 0 || rows >= last) revert BadKeys();
            last = rows;
        }
        address data = store(bundle);
        uint64 shardRows = uint64(uint256(bytes32(bundle[32:64])));
        verifiers_[id] = Verifier(data, shardRows, inputs, keys);
        emit VerifierRegistered(id, data, keys, inputs, shardRows);
    }

    function verifier(bytes32 id) external view returns (Verifier memory) {
        return verifiers_[id];
    }

    /// Deploys `data` as the code of a new contract, after a STOP byte so
    /// that it cannot be called.
    function store(bytes calldata data) internal returns (address a) {
        bytes memory code = abi.encodePacked(
            hex"61", uint16(data.length + 1), hex"80600a3d393df3", hex"00", data
        );
        assembly ("memory-safe") {
            a := create(0, add(code, 0x20), mload(code))
        }
        if (a == address(0)) revert BadKeys();
    }

    // ---- jobs -----------------------------------------------------------

    /// The job binding the proofs of `researcher`'s question carry:
    /// keccak256 of a tag, the chain id, this contract, the researcher and
    /// the question's hash, reduced into the scalar field (the researcher's
    /// client computes it offline).
    function questionNonce(address researcher, bytes32 question) public view returns (uint256) {
        return uint256(
            keccak256(abi.encodePacked("zkgate.chain.job.v2", block.chainid, address(this), researcher, question))
        ) % R;
    }

    /// The job nonce of job `id`.
    function jobNonce(uint256 id) public view returns (uint256) {
        return questionNonce(jobs_[id].researcher, jobs_[id].question);
    }

    /// Opens a job on a dataset with the sent value in escrow. `commitment`
    /// is the one the researcher expects (an owner's update in between is
    /// refused, not silently taken). `question` is the hash of the
    /// researcher's question, opened once; `circuitIds` are its pins: the
    /// circuit every key of the job must be, then, for a circuit that
    /// takes a suppression threshold (its first value), the largest the
    /// owner may release under (an ezkl job: see `settleEzkl`).
    /// `verifier` names the keys proofs must verify under; zero lets the
    /// dataset's owner name a bundle of the pinned circuit at settlement.
    function openJob(
        uint256 datasetId,
        uint256 commitment,
        bytes32 question,
        uint256[] calldata circuitIds,
        bytes32 verifierId,
        uint64 deadline
    ) external payable returns (uint256 id) {
        return open(datasetId, commitment, question, circuitIds, verifierId, deadline);
    }

    /// Opens a job from the sender with the sent value in escrow (see
    /// `openJob`; bounty entries are opened through `enterBounty`).
    function open(
        uint256 datasetId,
        uint256 commitment,
        bytes32 question,
        uint256[] calldata circuitIds,
        bytes32 verifierId,
        uint64 deadline
    ) internal returns (uint256 id) {
        Dataset storage d = datasets_[datasetId];
        if (d.owner == address(0)) revert UnknownDataset(datasetId);
        if (d.retired) revert DatasetRetiredError(datasetId);
        if (d.commitment != commitment) revert CommitmentChanged(d.commitment);
        uint256 charge = priceOf(datasetId);
        if (msg.value < charge) revert LowEscrow(charge);
        if (deadline <= block.timestamp) revert BadDeadline();
        if (verifierId != bytes32(0) && verifiers_[verifierId].data == address(0)) {
            revert UnknownVerifier(verifierId);
        }
        if (question == bytes32(0)) revert BadCircuits();
        if (jobOfQuestion[msg.sender][question] != 0) revert QuestionUsed(jobOfQuestion[msg.sender][question]);
        if (circuitIds.length == 0 || circuitIds.length > MAX_CIRCUITS) revert BadCircuits();
        for (uint256 k = 0; k < circuitIds.length; k++) {
            if (circuitIds[k] >= R) revert BadCircuits();
        }
        id = ++jobCount;
        jobOfQuestion[msg.sender][question] = id;
        jobs_[id] = Job(
            msg.sender,
            uint64(datasetId),
            deadline,
            Status.Open,
            d.owner,
            d.rows,
            verifierId,
            d.commitment,
            msg.value,
            question,
            keccak256(abi.encodePacked(circuitIds)),
            charge
        );
        emit JobOpened(
            id,
            datasetId,
            msg.sender,
            verifierId,
            question,
            circuitIds,
            jobNonce(id),
            msg.value,
            deadline
        );
    }

    function job(uint256 id) external view returns (Job memory) {
        return jobs_[id];
    }

    /// A settled job's values.
    function result(uint256 id) external view returns (uint256[] memory) {
        return results_[id];
    }

    /// Settles an open job with its values (field elements) and its shard
    /// proofs, in row order, and pays the dataset's owner. `circuitIds` are
    /// the pins the job was opened with: every key of the bundle must be
    /// the first, and a second bounds the threshold the values start with.
    function settle(
        uint256 id,
        bytes32 verifierId,
        uint256[] calldata circuitIds,
        uint256[] calldata values,
        Shard[] calldata shards
    ) external {
        if (bountyOf[id] != 0) revert InBounty(bountyOf[id]);
        close(id, checkSettlement(id, verifierId, circuitIds, values, shards), verifierId, values);
    }

    /// Ends job `id` as settled with `values` under `verifierId`: pays the
    /// owner the charge and refunds the rest of the escrow.
    function close(uint256 id, Job storage j, bytes32 verifierId, uint256[] calldata values) internal {
        j.status = Status.Settled;
        j.verifier = verifierId;
        results_[id] = values;
        uint256 amount = j.charge;
        emit JobSettled(id, verifierId, values, j.payee, amount);
        pay(j.payee, amount);
        if (j.escrow > amount) pay(j.researcher, j.escrow - amount);
    }

    /// What every settlement checks: the job is open and in time, the
    /// sender may name the bundle, its keys are the job's pinned circuits,
    /// and the shard proofs verify.
    function checkSettlement(
        uint256 id,
        bytes32 verifierId,
        uint256[] calldata circuitIds,
        uint256[] calldata values,
        Shard[] calldata shards
    ) internal view returns (Job storage j) {
        j = jobs_[id];
        if (j.status != Status.Open) revert NotOpen(id);
        if (block.timestamp > j.deadline) revert Expired(id);
        // A job pinned to an ezkl verifier settles through `settleEzkl`
        // only: a Groth16 bundle's circuit ids are whatever its registrant
        // wrote, so one could name the tag.
        if (circuitIds.length == 0 || circuitIds.length > 2 || circuitIds[0] == EZKL_TAG) revert BadCircuits();
        if (j.verifier == bytes32(0)) {
            if (msg.sender != j.payee) revert NotOwner();
        } else if (verifierId != j.verifier) {
            revert WrongVerifier(j.verifier);
        }
        Verifier memory v = verifiers_[verifierId];
        if (v.data == address(0)) revert UnknownVerifier(verifierId);
        pinned(j, v, circuitIds, values);
        checkProofs(id, verifierId, j, v, values, shards);
    }

    /// Checks the shard proofs of a settlement of job `id`, in row order,
    /// against the bundle `v`, the last publishing `values`.
    function checkProofs(
        uint256 id,
        bytes32 verifierId,
        Job storage j,
        Verifier memory v,
        uint256[] calldata values,
        Shard[] calldata shards
    ) internal view {
        if (values.length != v.inputs - FIXED_INPUTS) revert BadShard(shards.length);
        for (uint256 k = 0; k < values.length; k++) {
            if (values[k] >= R) revert InputNotInField(shards.length);
        }
        uint256[] memory inputs = new uint256[](v.inputs);
        inputs[0] = j.commitment;
        inputs[1] = j.rows;
        inputs[2] = questionNonce(j.researcher, j.question);
        uint256 offset = 0;
        uint256 link = 0;
        Batch memory b = newBatch(id, verifierId, j, v, values, shards);
        for (uint256 i = 0; i < shards.length; i++) {
            Shard calldata s = shards[i];
            if (s.offset != offset || s.linkIn != link || s.key >= v.keys) {
                revert BadShard(i);
            }
            bytes memory key = keyOf(b, v, s.key);
            // The key's shard size, then the shard's real rows: every shard
            // is proved by a circuit of the bundle's shard size, the last
            // padded, its real rows a public input.
            uint256 active;
            assembly ("memory-safe") {
                active := mload(add(key, 0x40))
            }
            if (active != v.shardRows) revert BadShard(i);
            if (j.rows - offset < active) active = j.rows - offset;
            if (s.linkOut >= R) revert InputNotInField(i);
            assembly ("memory-safe") {
                mstore(add(inputs, 0x80), mload(add(key, 0x20))) // circuit id
            }
            inputs[4] = offset;
            inputs[5] = active;
            inputs[6] = s.linkIn;
            inputs[7] = s.linkOut;
            // Zeros from every shard but the last, which publishes the values.
            if (offset + active == j.rows) publish(inputs, values);
            if (shards.length < BATCH_FROM) {
                if (!pairing(key, inputs, s.proof)) revert InvalidProof(i);
            } else if (!addToBatch(b, s.key, inputs, s.proof, i)) {
                revert InvalidProof(i);
            }
            offset += active;
            link = s.linkOut;
        }
        if (offset != j.rows || link != 0 || shards.length == 0) revert BadShard(shards.length);
        if (shards.length >= BATCH_FROM && !checkBatch(b)) revert InvalidProof(shards.length);

    }

    /// Reverts unless `circuitIds` are the job's pins, every key of bundle
    /// `v` is the pinned circuit, and the values start with a threshold no
    /// larger than the pinned one, if one is pinned.
    function pinned(Job storage j, Verifier memory v, uint256[] calldata circuitIds, uint256[] calldata values)
        internal
        view
    {
        if (keccak256(abi.encodePacked(circuitIds)) != j.circuits) revert BadCircuits();
        if (circuitIds.length == 2 && (values.length == 0 || values[0] > circuitIds[1])) revert BadCircuits();
        uint256 size = KEY_HEAD + 64 * (uint256(v.inputs) + 1);
        for (uint256 k = 0; k < v.keys; k++) {
            uint256 circuit = uint256(bytes32(readKey(v.data, k * size, 32)));
            if (circuit != circuitIds[0]) revert CircuitNotPinned(circuit);
        }
    }

    /// The values as the last shard's public inputs.
    function publish(uint256[] memory inputs, uint256[] calldata values) internal pure {
        for (uint256 k = 0; k < values.length; k++) {
            inputs[FIXED_INPUTS + k] = values[k];
        }
    }

    /// Publishes the head of the caller's audit log (its number of entries
    /// and the hash of the last): a record that no later rewrite of the
    /// log can remove.
    function anchorAudit(uint256 entries, bytes32 head) external {
        emit AuditAnchored(msg.sender, entries, head);
    }

    /// Refunds a job not settled by its deadline to its researcher (a
    /// bounty's entries are refunded by `finalizeBounty`).
    function refund(uint256 id) external {
        if (bountyOf[id] != 0) revert InBounty(bountyOf[id]);
        Job storage j = jobs_[id];
        if (j.status != Status.Open) revert NotOpen(id);
        if (block.timestamp <= j.deadline) revert NotExpired(id);
        j.status = Status.Refunded;
        uint256 amount = j.escrow;
        emit JobRefunded(id, j.researcher, amount);
        pay(j.researcher, amount);
    }

    /// Wei owed to accounts that refused a payment.
    mapping(address => uint256) public owed;

    event PaymentOwed(address indexed to, uint256 amount);

    /// Pays `to`, or keeps the amount for `withdraw` if `to` refuses it (a
    /// contract without a receive function cannot block a settlement).
    function pay(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) {
            owed[to] += amount;
            emit PaymentOwed(to, amount);
        }
    }

    /// Sends the sender what it is owed.
    function withdraw() external {
        uint256 amount = owed[msg.sender];
        owed[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---- evaluation bounties --------------------------------------------

    /// A sponsor's prize for the best proven score of a model on a
    /// registered dataset. Every entry is a job of the bounty's question
    /// (its template: schema, quantization, columns, label and aggregate)
    /// with the entrant's model, opened by the entrant with the entry fee
    /// in escrow (which pays the dataset's owner for the proof), and
    /// settled by proofs like any job: the contract checks that each key's
    /// circuit is the bounty's question (its id is the hash of the
    /// circuit's header, rebuilt here from the template and the model's
    /// part) and scores the released values. After the deadline anyone may
    /// finalize it: the best score wins, ties going to the earlier entry
    /// (the order entrants fix by entering, never the order of settlement,
    /// which the owner controls). An owner who leaves entries unsettled by
    /// the deadline forfeits every entry fee, refunded to the entrants; the
    /// prize then goes to the best settled entry or, if the sponsor's terms
    /// say so (`voidIfWithheld`), back to the sponsor. The sponsor cannot
    /// take the prize back once an entry is settled. Payments out of a
    /// bounty are credited (`owed`, then `withdraw`), so no recipient can
    /// block a finalization.
    struct Bounty {
        address sponsor;
        uint64 datasetId;
        uint64 closes;
        uint64 deadline;
        uint8 metric;
        bool voidIfWithheld;
        bool ended;
        uint32 version;
        uint32 entries;
        uint32 settled;
        address template;
        uint32 templateSize;
        uint256 commitment;
        uint256 prize;
        uint256 entryFee;
    }

    /// What a sponsor opens a bounty with. `version` is the circuit header
    /// format the template is written in, `template` the header's bytes
    /// from `"schema":` to the comma before `"params":`.
    struct Terms {
        uint64 datasetId;
        uint256 commitment;
        uint8 metric;
        uint32 version;
        uint64 closes;
        uint64 deadline;
        uint256 entryFee;
        bool voidIfWithheld;
    }

    /// Most entries a bounty takes (its ranking is sorted on chain).
    uint256 internal constant MAX_ENTRIES = 64;

    /// Scores bounty entries: its own contract, made with this one, so that
    /// this one's code stays under EIP-170's limit.
    BountyScore internal immutable scorer = new BountyScore();

    uint256 public bountyCount;
    mapping(uint256 => Bounty) internal bounties_;
    mapping(uint256 => uint256[]) internal entries_;
    /// The bounty each entry's job belongs to (0: an ordinary job).
    mapping(uint256 => uint256) public bountyOf;
    /// Each settled entry's score.
    mapping(uint256 => uint256) public scoreOf;

    event BountyOpened(
        uint256 indexed id,
        uint256 indexed datasetId,
        address indexed sponsor,
        uint8 metric,
        uint256 prize,
        uint256 entryFee,
        uint64 closes,
        uint64 deadline,
        bool voidIfWithheld,
        bytes32 templateHash
    );
    event BountyEntered(uint256 indexed id, uint256 indexed job, address indexed researcher, uint32 entry);
    event EntryScored(uint256 indexed id, uint256 indexed job, uint256 score);
    event BountyFinalized(
        uint256 indexed id, uint256 winner, address paidTo, uint256 prize, uint32 withheld, uint256[] ranking, uint256[] scores
    );
    event BountyCancelled(uint256 indexed id);

    error UnknownBounty(uint256 id);
    error BadBounty();
    error BountyClosed(uint256 id);
    error WrongFee(uint256 fee);
    error InBounty(uint256 bounty);
    error NotTheQuestion(uint256 circuit);
    error BountyNotOver(uint256 id);
    error BountyEnded(uint256 id);
    error EntriesSettled(uint256 id);

    /// Opens a bounty with the sent value as its prize.
    function openBounty(Terms calldata t, bytes calldata template) external payable returns (uint256 id) {
        Dataset storage d = datasets_[t.datasetId];
        if (d.owner == address(0)) revert UnknownDataset(t.datasetId);
        if (d.retired) revert DatasetRetiredError(t.datasetId);
        if (d.commitment != t.commitment) revert CommitmentChanged(d.commitment);
        if (
            msg.value == 0 || t.metric > MAE || template.length == 0 || template.length >= MAX_CODE
                || t.closes <= block.timestamp || t.deadline <= t.closes
        ) revert BadBounty();
        if (t.entryFee < priceOf(t.datasetId)) revert LowEscrow(priceOf(t.datasetId));
        id = ++bountyCount;
        Bounty storage b = bounties_[id];
        b.sponsor = msg.sender;
        b.datasetId = t.datasetId;
        b.closes = t.closes;
        b.deadline = t.deadline;
        b.metric = t.metric;
        b.voidIfWithheld = t.voidIfWithheld;
        b.version = t.version;
        b.template = store(template);
        b.templateSize = uint32(template.length);
        b.commitment = t.commitment;
        b.prize = msg.value;
        b.entryFee = t.entryFee;
        emit BountyOpened(
            id,
            t.datasetId,
            msg.sender,
            t.metric,
            msg.value,
            t.entryFee,
            t.closes,
            t.deadline,
            t.voidIfWithheld,
            keccak256(template)
        );
    }

    function bounty(uint256 id) external view returns (Bounty memory) {
        return bounties_[id];
    }

    /// A bounty's entries (their job ids), in the order they were entered.
    function bountyEntries(uint256 id) external view returns (uint256[] memory) {
        return entries_[id];
    }

    /// A bounty's template.
    function bountyTemplate(uint256 id) external view returns (bytes memory) {
        Bounty storage b = bounties_[id];
        if (b.sponsor == address(0)) revert UnknownBounty(id);
        return readKey(b.template, 0, b.templateSize);
    }

    /// Enters a bounty: opens a job on its dataset for the entrant's
    /// question with the entry fee in escrow, settled by the bounty's
    /// deadline through `settleEntry`.
    function enterBounty(uint256 bountyId, bytes32 question, uint256[] calldata circuitIds)
        external
        payable
        returns (uint256 id)
    {
        Bounty storage b = bounties_[bountyId];
        if (b.sponsor == address(0)) revert UnknownBounty(bountyId);
        if (b.ended || block.timestamp > b.closes || b.entries >= MAX_ENTRIES) revert BountyClosed(bountyId);
        if (msg.value != b.entryFee) revert WrongFee(b.entryFee);
        id = open(b.datasetId, b.commitment, question, circuitIds, bytes32(0), b.deadline);
        bountyOf[id] = bountyId;
        entries_[bountyId].push(id);
        emit BountyEntered(bountyId, id, msg.sender, b.entries++);
    }

    /// Settles a bounty entry (the dataset's owner): `settle`'s checks,
    /// with `tail` the entrant's part of every key's circuit header (from
    /// `"params":` to its end); then scores the values. The entry fee stays
    /// in escrow until the bounty is finalized.
    function settleEntry(
        uint256 id,
        bytes32 verifierId,
        uint256[] calldata circuitIds,
        uint256[] calldata values,
        Shard[] calldata shards,
        bytes calldata tail
    ) external {
        if (bountyOf[id] == 0) revert UnknownBounty(0);
        Job storage j = checkSettlement(id, verifierId, circuitIds, values, shards);
        entryCircuits(bounties_[bountyOf[id]], verifiers_[verifierId], tail);
        j.status = Status.Settled;
        j.verifier = verifierId;
        emit JobSettled(id, verifierId, values, j.payee, 0);
        scoreEntry(id, j.rows, values, tail);
    }

    /// Records a settled entry's values and score.
    function scoreEntry(uint256 id, uint64 rows, uint256[] calldata values, bytes calldata tail) internal {
        uint256 bountyId = bountyOf[id];
        Bounty storage b = bounties_[bountyId];
        results_[id] = values;
        uint256 s = scorer.score(b.metric, rows, values, tail);
        scoreOf[id] = s;
        b.settled++;
        emit EntryScored(bountyId, id, s);
    }

    /// Reverts unless every key of bundle `v` proves the bounty's question:
    /// its circuit id is the hash of `head || template || tail`, the head
    /// written here from the format version and the key's shard size.
    function entryCircuits(Bounty storage b, Verifier memory v, bytes calldata tail) internal view {
        if (tail.length < 9 || bytes9(tail[:9]) != bytes9('"params":')) revert NotTheQuestion(0);
        bytes memory template = readKey(b.template, 0, b.templateSize);
        uint256 size = KEY_HEAD + 64 * (uint256(v.inputs) + 1);
        for (uint256 k = 0; k < v.keys; k++) {
            bytes memory key = readKey(v.data, k * size, 64);
            uint256 circuit = word(key, 0);
            bytes memory head = abi.encodePacked(
                '{"version":', decimal(b.version), ',"shard_rows":', decimal(word(key, 32)), ","
            );
            // SHA-256 as a field element: its last 31 bytes.
            uint256 id = uint256(sha256(abi.encodePacked(head, template, tail))) & ((1 << 248) - 1);
            if (id != circuit) revert NotTheQuestion(circuit);
        }
    }

    /// `x` in decimal digits.
    function decimal(uint256 x) internal pure returns (bytes memory s) {
        uint256 n = 1;
        for (uint256 y = x; y >= 10; y /= 10) n++;
        s = new bytes(n);
        for (; n > 0; x /= 10) s[--n] = bytes1(uint8(48 + x % 10));
    }

    /// Ends a bounty after its deadline (anyone): ranks the settled
    /// entries, credits the prize and the entry fees, and emits the
    /// ranking (job ids, best first, with their scores).
    function finalizeBounty(uint256 bountyId) external {
        Bounty storage b = bounties_[bountyId];
        if (b.sponsor == address(0)) revert UnknownBounty(bountyId);
        if (b.ended) revert BountyEnded(bountyId);
        if (block.timestamp <= b.deadline) revert BountyNotOver(bountyId);
        b.ended = true;
        uint32 withheld = b.entries - b.settled;
        bool lower = b.metric >= MSE;
        uint256[] storage all = entries_[bountyId];
        uint256[] memory ranking = new uint256[](b.settled);
        uint256[] memory scores = new uint256[](b.settled);
        uint256 n = 0;
        for (uint256 i = 0; i < all.length; i++) {
            Job storage j = jobs_[all[i]];
            if (j.status == Status.Settled) {
                // Insertion, stable: an equal score stays behind the
                // earlier entry.
                uint256 s = scoreOf[all[i]];
                uint256 p = n++;
                for (; p > 0 && (lower ? s < scores[p - 1] : s > scores[p - 1]); p--) {
                    ranking[p] = ranking[p - 1];
                    scores[p] = scores[p - 1];
                }
                ranking[p] = all[i];
                scores[p] = s;
                credit(withheld == 0 ? j.payee : j.researcher, j.escrow);
            } else {
                j.status = Status.Refunded;
                emit JobRefunded(all[i], j.researcher, j.escrow);
                credit(j.researcher, j.escrow);
            }
        }
        uint256 winner = 0;
        address to = b.sponsor;
        if (n > 0 && !(withheld > 0 && b.voidIfWithheld)) {
            winner = ranking[0];
            to = jobs_[winner].researcher;
        }
        credit(to, b.prize);
        emit BountyFinalized(bountyId, winner, to, b.prize, withheld, ranking, scores);
    }

    /// Takes a bounty back (its sponsor), only while no entry is settled:
    /// every entry fee is refunded.
    function cancelBounty(uint256 bountyId) external {
        Bounty storage b = bounties_[bountyId];
        if (b.sponsor != msg.sender) revert NotOwner();
        if (b.ended) revert BountyEnded(bountyId);
        if (b.settled != 0) revert EntriesSettled(bountyId);
        b.ended = true;
        uint256[] storage all = entries_[bountyId];
        for (uint256 i = 0; i < all.length; i++) {
            Job storage j = jobs_[all[i]];
            j.status = Status.Refunded;
            emit JobRefunded(all[i], j.researcher, j.escrow);
            credit(j.researcher, j.escrow);
        }
        credit(b.sponsor, b.prize);
        emit BountyCancelled(bountyId);
    }

    /// Credits `amount` to `to`, who takes it with `withdraw`.
    function credit(address to, uint256 amount) internal {
        if (amount == 0) return;
        owed[to] += amount;
        emit PaymentOwed(to, amount);
    }

    // ---- several shards: one pairing check ------------------------------

    /// Shard proofs checked together. Proof `i > 0` is weighted by a 128-bit
    /// `r_i` drawn from a hash of the job, the keys and every shard
    /// (Fiat-Shamir, after everything is fixed), and the weighted equations
    /// are multiplied into one pairing check:
    /// `prod_i e(-r_i A_i, B_i) * prod_k e(S_k alpha_k, beta_k)
    ///  e(VX_k, gamma_k) e(CC_k, delta_k) == 1` where, over the shards
    /// under key `k`, `S_k = sum r_i`, `CC_k = sum r_i C_i` and
    /// `VX_k = sum r_i vk_x_i = S_k IC_0 + sum_j (sum_i r_i x_ij) IC_j`, so
    /// the input multiplications are paid once per key, not per shard. A
    /// set of proofs with one invalid passes with probability about 2^-128.
    struct Batch {
        uint256 seed;
        uint256 m;
        uint256[] coef;
        uint256[] cacc;
        uint256[] pairs;
        uint256 np;
        bytes[] keys;
    }

    function newBatch(
        uint256 id,
        bytes32 verifierId,
        Job storage j,
        Verifier memory v,
        uint256[] calldata values,
        Shard[] calldata shards
    ) internal view returns (Batch memory b) {
        b.keys = new bytes[](v.keys);
        if (shards.length < BATCH_FROM) return b;
        b.seed = uint256(
            keccak256(abi.encode(block.chainid, address(this), id, verifierId, j.commitment, j.rows, values, shards))
        );
        b.m = v.inputs;
        b.coef = new uint256[](uint256(v.keys) * (b.m + 1));
        b.cacc = new uint256[](2 * uint256(v.keys));
        b.pairs = new uint256[](6 * (shards.length + 3 * uint256(v.keys)));
    }

    /// Key `k` of the bundle, read once per settlement.
    function keyOf(Batch memory b, Verifier memory v, uint256 k) internal view returns (bytes memory key) {
        key = b.keys[k];
        if (key.length == 0) {
            uint256 size = KEY_HEAD + 64 * (uint256(v.inputs) + 1);
            key = readKey(v.data, k * size, size);
            b.keys[k] = key;
        }
    }

    function addToBatch(Batch memory b, uint256 k, uint256[] memory inputs, uint256[8] calldata proof, uint256 i)
        internal
        view
        returns (bool ok)
    {
        // The first weight is 1 (it saves two multiplications and keeps the
        // check sound: an invalid proof is caught by its own random weight,
        // or, alone, by the others being valid).
        uint256 r = i == 0 ? 1 : uint256(keccak256(abi.encode(b.seed, i))) >> 128;
        if (r == 0) r = 1;
        uint256 base = k * (b.m + 1);
        b.coef[base] = addmod(b.coef[base], r, R);
        for (uint256 t = 0; t < b.m; t++) {
            uint256 x = inputs[t];
            if (x != 0) b.coef[base + 1 + t] = addmod(b.coef[base + 1 + t], mulmod(r, x, R), R);
        }
        if (proof[1] >= Q || !pushProof(b, proof, r)) return false;
        (uint256 cx, uint256 cy, bool o1) = r == 1 ? (proof[6], proof[7], true) : g1mul(proof[6], proof[7], r);
        if (!o1) return false;
        (cx, cy, ok) = g1add(b.cacc[2 * k], b.cacc[2 * k + 1], cx, cy);
        b.cacc[2 * k] = cx;
        b.cacc[2 * k + 1] = cy;
    }

    /// Appends the pair `(-r A, B)`.
    function pushProof(Batch memory b, uint256[8] calldata proof, uint256 r) internal view returns (bool ok) {
        uint256 ax;
        uint256 ay;
        (ax, ay, ok) = r == 1 ? (proof[0], proof[1], true) : g1mul(proof[0], proof[1], r);
        uint256 p = 6 * b.np;
        b.pairs[p] = ax;
        b.pairs[p + 1] = (Q - ay) % Q;
        b.pairs[p + 2] = proof[2];
        b.pairs[p + 3] = proof[3];
        b.pairs[p + 4] = proof[4];
        b.pairs[p + 5] = proof[5];
        b.np++;
    }

    function checkBatch(Batch memory b) internal view returns (bool ok) {
        ok = true;
        for (uint256 k = 0; k < b.keys.length; k++) {
            bytes memory key = b.keys[k];
            if (key.length == 0) continue;
            uint256 base = k * (b.m + 1);
            uint256 vx;
            uint256 vy;
            for (uint256 t = 0; t <= b.m; t++) {
                uint256 c = b.coef[base + t];
                if (c == 0) continue;
                (uint256 px, uint256 py, bool o1) = g1mul(word(key, KEY_HEAD + 64 * t), word(key, KEY_HEAD + 64 * t + 32), c);
                bool o2;
                if (!o1) return false;
                (vx, vy, o2) = g1add(vx, vy, px, py);
                if (!o2) return false;
            }
            (uint256 lx, uint256 ly, bool o3) = g1mul(word(key, 64), word(key, 96), b.coef[base]);
            if (!o3) return false;
            uint256 p = 6 * b.np;
            // (S alpha, beta), (VX, gamma), (CC, delta)
            b.pairs[p] = lx;
            b.pairs[p + 1] = ly;
            b.pairs[p + 6] = vx;
            b.pairs[p + 7] = vy;
            b.pairs[p + 12] = b.cacc[2 * k];
            b.pairs[p + 13] = b.cacc[2 * k + 1];
            for (uint256 w = 0; w < 4; w++) {
                b.pairs[p + 2 + w] = word(key, 128 + 32 * w);
                b.pairs[p + 8 + w] = word(key, 256 + 32 * w);
                b.pairs[p + 14 + w] = word(key, 384 + 32 * w);
            }
            b.np += 3;
        }
        uint256[] memory pairs = b.pairs;
        uint256 len = 192 * b.np;
        uint256 out;
        bool called;
        assembly ("memory-safe") {
            called := staticcall(gas(), 0x08, add(pairs, 0x20), len, 0x00, 0x20)
            out := mload(0x00)
        }
        ok = ok && called && out == 1;
    }

    function word(bytes memory b, uint256 at) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(b, 0x20), at))
        }
    }

    function g1mul(uint256 x, uint256 y, uint256 s) internal view returns (uint256 rx, uint256 ry, bool ok) {
        assembly ("memory-safe") {
            let f := mload(0x40)
            mstore(f, x)
            mstore(add(f, 0x20), y)
            mstore(add(f, 0x40), s)
            ok := staticcall(gas(), 0x07, f, 0x60, f, 0x40)
            rx := mload(f)
            ry := mload(add(f, 0x20))
        }
    }

    function g1add(uint256 ax, uint256 ay, uint256 bx, uint256 by)
        internal
        view
        returns (uint256 rx, uint256 ry, bool ok)
    {
        assembly ("memory-safe") {
            let f := mload(0x40)
            mstore(f, ax)
            mstore(add(f, 0x20), ay)
            mstore(add(f, 0x40), bx)
            mstore(add(f, 0x60), by)
            ok := staticcall(gas(), 0x06, f, 0x80, f, 0x40)
            rx := mload(f)
            ry := mload(add(f, 0x20))
        }
    }

    // ---- Groth16 --------------------------------------------------------

    /// Checks one proof against key `key` of a registered bundle, with all
    /// public inputs given (a view for clients and gas measurement).
    function verifyProof(bytes32 verifierId, uint256 key, uint256[] calldata inputs, uint256[8] calldata proof)
        external
        view
        returns (bool)
    {
        Verifier memory v = verifiers_[verifierId];
        if (v.data == address(0)) revert UnknownVerifier(verifierId);
        if (key >= v.keys || inputs.length != v.inputs) revert BadKeys();
        uint256 keySize = KEY_HEAD + 64 * (uint256(v.inputs) + 1);
        uint256[] memory xs = inputs;
        for (uint256 k = 0; k < xs.length; k++) {
            if (xs[k] >= R) return false;
        }
        return pairing(readKey(v.data, key * keySize, keySize), xs, proof);
    }

    function readKey(address data, uint256 at, uint256 size) internal view returns (bytes memory key) {
        key = new bytes(size);
        assembly ("memory-safe") {
            extcodecopy(data, add(key, 0x20), add(at, 1), size)
        }
    }

    /// The Groth16 equation, `e(-A, B) e(alpha, beta) e(vk_x, gamma)
    /// e(C, delta) == 1` with `vk_x = IC_0 + sum x_i IC_(i+1)`. `key` is one
    /// key as registered; `inputs` are below R. False on any invalid point.
    function pairing(bytes memory key, uint256[] memory inputs, uint256[8] calldata proof)
        internal
        view
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let k := add(key, 0x20)
            let ic := add(k, 0x200) // KEY_HEAD
            let f := mload(0x40)
            // vk_x in f[0..64), scratch for ecMul/ecAdd after it.
            mstore(f, mload(ic))
            mstore(add(f, 0x20), mload(add(ic, 0x20)))
            ok := 1
            let n := mload(inputs)
            for { let i := 0 } and(lt(i, n), ok) { i := add(i, 1) } {
                let x := mload(add(inputs, mul(add(i, 1), 0x20)))
                if x {
                    let p := add(ic, mul(add(i, 1), 0x40))
                    mstore(add(f, 0x40), mload(p))
                    mstore(add(f, 0x60), mload(add(p, 0x20)))
                    mstore(add(f, 0x80), x)
                    ok := and(ok, staticcall(gas(), 0x07, add(f, 0x40), 0x60, add(f, 0x40), 0x40))
                    ok := and(ok, staticcall(gas(), 0x06, f, 0x80, f, 0x40))
                }
            }
            // Pairing input: (-A, B), (alpha, beta), (vk_x, gamma), (C, delta).
            let vx := mload(f)
            let vy := mload(add(f, 0x20))
            let a := f
            let ay := calldataload(add(proof, 0x20))
            if iszero(lt(ay, Q)) { ok := 0 }
            mstore(a, calldataload(proof))
            mstore(add(a, 0x20), mod(sub(Q, ay), Q))
            calldatacopy(add(a, 0x40), add(proof, 0x40), 0x80)
            // alpha (64) and beta (128) follow the circuit id and rows.
            mcopy(add(a, 0xc0), add(k, 0x40), 0xc0)
            mstore(add(a, 0x180), vx)
            mstore(add(a, 0x1a0), vy)
            mcopy(add(a, 0x1c0), add(k, 0x100), 0x80) // gamma
            calldatacopy(add(a, 0x240), add(proof, 0xc0), 0x40) // C
            mcopy(add(a, 0x280), add(k, 0x180), 0x80) // delta
            if ok {
                // Two statements: Yul evaluates arguments right to left.
                ok := staticcall(gas(), 0x08, a, 0x300, a, 0x20)
                ok := and(ok, eq(mload(a), 1))
            }
        }
    }

    // ---- ezkl jobs ------------------------------------------------------
    //
    // A job asking for an ezkl proof (halo2 with KZG over a universal SRS)
    // pins four circuit ids: `EZKL_TAG`; the code hash (reduced into the
    // field) of the verifier contract ezkl renders for the question's graph
    // and SRS, which the researcher derives from the question before
    // opening the job (anyone may deploy and add it); the dataset's ezkl hash
    // (Poseidon of its stored values and salt, published by its owner with
    // `publishEzklHash`); and the job's binding, Poseidon of the job
    // nonce's 16-bit limbs (ezkl's hash, which the researcher's client
    // computes: this contract has no Poseidon). The proof's instances are
    // the dataset hash, the binding, then the values.

    /// The first circuit id of a job settled by an ezkl proof.
    uint256 internal constant EZKL_TAG = uint256(keccak256("zkgate.ezkl.v1")) % R;

    /// Each dataset's ezkl hash, as its owner published it.
    mapping(uint256 => uint256) public ezklHashOf;
    /// The ezkl verifiers added, by code hash reduced into the field.
    mapping(uint256 => address) public ezklVerifierOf;

    event EzklHashPublished(uint256 indexed id, uint256 hash);

    /// Publishes dataset `id`'s ezkl hash (its owner).
    function publishEzklHash(uint256 id, uint256 hash) external {
        ownedDataset(id);
        if (hash == 0 || hash >= R) revert BadDataset();
        ezklHashOf[id] = hash;
        emit EzklHashPublished(id, hash);
    }

    /// Adds a deployed ezkl verifier under its code hash (reduced into the
    /// field), the id jobs pin; anyone may. The first address added for a
    /// code is kept.
    function addEzklVerifier(address verifier_) external returns (uint256 code) {
        code = uint256(verifier_.codehash) % R;
        if (verifier_.code.length == 0) revert UnknownVerifier(bytes32(0));
        if (ezklVerifierOf[code] == address(0)) ezklVerifierOf[code] = verifier_;
    }

    /// Settles an open ezkl job with `call`, the calldata of
    /// `verifyProof(bytes proof, uint256[] instances)` (as ezkl encodes it)
    /// for the verifier the job pins: the instances are the dataset hash
    /// and the binding the job pins, then the job's values, field elements
    /// (the verifier refuses others). Anyone may submit it. Pays the
    /// dataset's owner.
    function settleEzkl(uint256 id, uint256[] calldata circuitIds, bytes calldata call) external {
        Job storage j = jobs_[id];
        if (bountyOf[id] != 0 || j.status != Status.Open || block.timestamp > j.deadline) revert NotOpen(id);
        // The instances where the verifier's ABI decoder reads them.
        uint256[] calldata instances;
        bool fits;
        assembly ("memory-safe") {
            let at := add(add(call.offset, 4), calldataload(add(call.offset, 36)))
            instances.length := calldataload(at)
            instances.offset := add(at, 32)
            fits := and(
                and(gt(call.length, 67), lt(instances.length, 0x10000)),
                iszero(gt(add(instances.offset, mul(instances.length, 32)), add(call.offset, call.length)))
            )
        }
        if (
            !fits || bytes4(call) != 0x1e8e1e13 || instances.length < 2 || circuitIds.length != 4
                || circuitIds[0] != EZKL_TAG || keccak256(abi.encodePacked(circuitIds)) != j.circuits
                || ezklHashOf[j.datasetId] != circuitIds[2] || instances[0] != circuitIds[2]
                || instances[1] != circuitIds[3]
        ) revert BadCircuits();
        address v = ezklVerifierOf[circuitIds[1]];
        if (v == address(0)) revert UnknownVerifier(bytes32(circuitIds[1]));
        (bool ok, bytes memory ret) = v.staticcall(call);
        if (!ok || ret.length != 32 || uint256(bytes32(ret)) != 1) revert InvalidProof(0);
        close(id, j, bytes32(circuitIds[1]), instances[2:]);
    }
}

/// A bounty entry's score from its released values.
contract BountyScore {
    /// An entry's score from its released values (field elements; noise can
    /// make a count negative, which reads as zero). Values that cannot be
    /// this metric's score the worst possible, never revert.
    function score(uint8 metric, uint256 rows, uint256[] calldata values, bytes calldata tail)
        external
        pure
        returns (uint256)
    {
        uint256 n = values.length;
        uint256 worst = metric >= MSE ? type(uint256).max : 0;
        uint256[] memory x = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            uint256 v = values[i];
            x[i] = v > R / 2 ? 0 : (v >= MAX_VALUE ? MAX_VALUE : v);
        }
        if (metric >= MSE) {
            if (n != 1) return worst;
            (int256 e, bool ok) = errorScale(tail);
            // The error is at scale 2^e: squared (MSE) at 4^e.
            uint256 bits = uint256(e < 0 ? -e : e) * (metric == MSE ? 2 : 1);
            if (!ok || bits > 128) return worst;
            if (e >= 0) return x[0] * SCALE / (rows << bits);
            return (x[0] << bits) * SCALE / rows;
        }
        if (metric == ACCURACY && n == 1) return (x[0] > rows ? rows : x[0]) * SCALE / rows;
        uint256 k = 2;
        while (k * k < n) k++;
        // A matrix released by a circuit that takes a suppression
        // threshold follows it: a bounty scores exact cells only.
        if (k * k != n) {
            k--;
            if (k < 2 || k * k + 1 != n || x[0] != 0) return worst;
            for (uint256 i = 1; i < n; i++) x[i - 1] = x[i];
        }
        if (metric == ACCURACY) {
            uint256 correct = 0;
            for (uint256 c = 0; c < k; c++) correct += x[c * k + c];
            return (correct > rows ? rows : correct) * SCALE / rows;
        }
        if (metric == F1) {
            // Row = label, column = prediction; class 1 is the positive one.
            if (k != 2) return worst;
            uint256 den = 2 * x[3] + x[1] + x[2];
            return den == 0 ? 0 : 2 * x[3] * SCALE / den;
        }
        // Balanced accuracy: the mean recall over labels that have rows.
        uint256 sum = 0;
        uint256 labels = 0;
        for (uint256 l = 0; l < k; l++) {
            uint256 total = 0;
            for (uint256 p = 0; p < k; p++) total += x[l * k + p];
            if (total > 0) {
                sum += x[l * k + l] * SCALE / total;
                labels++;
            }
        }
        return labels == 0 ? 0 : sum / labels;
    }

    /// `params.error_scale` from a header's tail, which starts
    /// `"params":{"classes":K,"threshold_q":T,"bits":B,"error_scale":E,`.
    function errorScale(bytes calldata t) internal pure returns (int256 e, bool ok) {
        uint256 at = 0;
        bytes[4] memory keys = [bytes('"params":{"classes":'), ',"threshold_q":', ',"bits":', ',"error_scale":'];
        for (uint256 f = 0; f < 4; f++) {
            bytes memory key = keys[f];
            if (t.length < at + key.length || keccak256(t[at:at + key.length]) != keccak256(key)) return (0, false);
            at += key.length;
            bool negative = at < t.length && t[at] == "-";
            if (negative) at++;
            uint256 start = at;
            uint256 v = 0;
            while (at < t.length && t[at] >= "0" && t[at] <= "9" && at - start < 30) {
                v = v * 10 + uint8(t[at]) - 48;
                at++;
            }
            if (at == start) return (0, false);
            e = negative ? -int256(v) : int256(v);
        }
        ok = at < t.length && t[at] == ",";
    }
}
