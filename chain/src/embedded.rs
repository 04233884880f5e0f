//! The embedded chain: revm over an in-memory state that is written to one
//! JSON file after every transaction, so the quickstart needs no node.
//!
//! Every operation takes an advisory lock on `<file>.lock` (shared to read,
//! exclusive to write) and reloads the file first, so a running gateway and
//! the `zkgate chain` commands can use the same chain at once. Each
//! transaction is mined in a block of its own; block time is the wall clock
//! (plus a development offset, see [`Embedded::advance_time`]), so job
//! deadlines mean what they say.
//!
//! Transactions are not signed here: the sender is the wallet's address.
//! Accounts start as in anvil's default genesis (the ten development keys
//! with 10,000 ether each), so the same keys work on both.

use crate::client::{LogEntry, TxReceipt, TxRequest};
use crate::{Error, Result};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::hardfork::SpecId;
use revm::primitives::TxKind;
use revm::state::{AccountInfo, Bytecode};
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The embedded chain's id.
pub const CHAIN_ID: u64 = 31_338;
/// Gas limit of a block (and of a transaction).
pub const BLOCK_GAS_LIMIT: u64 = 30_000_000;
/// Gas limit of one transaction (EIP-7825's cap).
pub const TX_GAS_LIMIT: u64 = 1 << 24;
/// The fork the embedded chain runs.
pub const SPEC: SpecId = SpecId::PRAGUE;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct AccountSnap {
    balance: U256,
    nonce: u64,
    #[serde(default, skip_serializing_if = "is_empty")]
    code: Bytes,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    storage: BTreeMap<U256, U256>,
}

/// The chain as the file holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Snapshot {
    chain_id: u64,
    number: u64,
    timestamp: u64,
    time_offset: u64,
    accounts: BTreeMap<Address, AccountSnap>,
    receipts: Vec<TxReceipt>,
}

impl Snapshot {
    fn genesis() -> Snapshot {
        let ether = U256::from(10u64).pow(U256::from(18u64));
        let accounts = crate::client::Wallet::dev_all()
            .iter()
            .map(|w| {
                let a = AccountSnap {
                    balance: U256::from(10_000u64) * ether,
                    nonce: 0,
                    code: Bytes::new(),
                    storage: BTreeMap::new(),
                };
                (w.address(), a)
            })
            .collect();
        Snapshot {
            chain_id: CHAIN_ID,
            number: 0,
            timestamp: wall_clock(),
            time_offset: 0,
            accounts,
            receipts: Vec::new(),
        }
    }

    fn db(&self) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        for (addr, a) in &self.accounts {
            let code = Bytecode::new_raw(a.code.clone());
            let info = AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: code.hash_slow(),
                code: Some(code),
                ..Default::default()
            };
            db.insert_account_info(*addr, info);
            for (k, v) in &a.storage {
                db.insert_account_storage(*addr, *k, *v)
                    .expect("an in-memory database accepts storage");
            }
        }
        db
    }

    fn absorb(&mut self, db: &CacheDB<EmptyDB>) {
        self.accounts.clear();
        for (addr, acc) in &db.cache.accounts {
            let info = &acc.info;
            let code = info
                .code
                .as_ref()
                .or_else(|| db.cache.contracts.get(&info.code_hash))
                .map(|c| c.original_bytes())
                .unwrap_or_default();
            let storage: BTreeMap<U256, U256> = acc
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect();
            if info.balance.is_zero() && info.nonce == 0 && code.is_empty() && storage.is_empty() {
                continue;
            }
            self.accounts.insert(
                *addr,
                AccountSnap {
                    balance: info.balance,
                    nonce: info.nonce,
                    code,
                    storage,
                },
            );
        }
    }

    fn next_time(&self) -> u64 {
        (wall_clock() + self.time_offset).max(self.timestamp + 1)
    }
}

fn is_empty(b: &Bytes) -> bool {
    b.is_empty()
}

fn wall_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An EVM in this process whose state lives in one file.
#[derive(Debug)]
pub struct Embedded {
    path: PathBuf,
}

impl Embedded {
    /// Opens the chain in `path`, creating it (at genesis) if absent.
    pub fn open(path: &Path) -> Result<Embedded> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let chain = Embedded {
            path: path.to_path_buf(),
        };
        chain.with(true, |_| Ok(((), false)))?;
        Ok(chain)
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the current snapshot under the lock; writes the snapshot
    /// back when `f` says it changed. A missing file is genesis.
    fn with<T>(
        &self,
        write: bool,
        f: impl FnOnce(&mut Snapshot) -> Result<(T, bool)>,
    ) -> Result<T> {
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        if write {
            lock.lock()
        } else {
            lock.lock_shared()
        }
        .map_err(|e| Error::io(&lock_path, e))?;
        let mut snap = match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Chain(format!("{}: not a chain state: {e}", self.path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Snapshot::genesis(),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let fresh = !self.path.exists();
        let (out, changed) = f(&mut snap)?;
        if write && (changed || fresh) {
            let tmp = self.path.with_extension("tmp");
            let bytes = serde_json::to_vec(&snap).expect("snapshots serialize");
            std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(out)
    }

    /// Executes a transaction from `from` in a new block and returns its
    /// receipt (a reverted transaction is mined too, as on a node).
    pub fn send(&self, from: Address, tx: &TxRequest) -> Result<TxReceipt> {
        self.with(true, |snap| {
            let nonce = snap.accounts.get(&from).map_or(0, |a| a.nonce);
            let number = snap.number + 1;
            let timestamp = snap.next_time();
            let env = tx_env(from, tx, Some(nonce), snap.chain_id)?;
            let mut evm = Context::mainnet()
                .with_db(snap.db())
                .modify_cfg_chained(|c| {
                    c.chain_id = snap.chain_id;
                    c.spec = SPEC;
                })
                .with_block(block(number, timestamp))
                .build_mainnet();
            let result = evm
                .transact_commit(env)
                .map_err(|e| Error::Chain(format!("transaction rejected: {e}")))?;
            let db = evm.ctx.journaled_state.database;
            let mut h = Vec::new();
            h.extend_from_slice(from.as_slice());
            h.extend_from_slice(&nonce.to_be_bytes());
            h.extend_from_slice(&snap.chain_id.to_be_bytes());
            h.extend_from_slice(&tx.data);
            let receipt = receipt(keccak256(&h), number, result);
            snap.absorb(&db);
            snap.number = number;
            snap.timestamp = timestamp;
            snap.receipts.push(receipt.clone());
            Ok((receipt, true))
        })
    }

    /// Runs a call without committing it; returns the output, or the revert
    /// data as [`Error::Reverted`].
    pub fn call(&self, from: Address, tx: &TxRequest) -> Result<Bytes> {
        self.with(false, |snap| {
            let env = tx_env(from, tx, None, snap.chain_id)?;
            let mut evm = Context::mainnet()
                .with_db(snap.db())
                .modify_cfg_chained(|c| {
                    c.chain_id = snap.chain_id;
                    c.spec = SPEC;
                    c.disable_nonce_check = true;
                })
                .with_block(block(snap.number + 1, snap.next_time()))
                .build_mainnet();
            let out = evm
                .transact(env)
                .map_err(|e| Error::Chain(format!("call rejected: {e}")))?;
            let r = receipt(B256::ZERO, 0, out.result);
            if r.success {
                Ok((r.output, false))
            } else {
                Err(Error::Reverted(crate::client::revert_reason(&r.output)))
            }
        })
    }

    /// An account's balance.
    pub fn balance(&self, addr: Address) -> Result<U256> {
        self.with(false, |s| {
            Ok((
                s.accounts.get(&addr).map_or(U256::ZERO, |a| a.balance),
                false,
            ))
        })
    }

    /// An account's code (empty for none).
    pub fn code(&self, addr: Address) -> Result<Bytes> {
        self.with(false, |s| {
            Ok((
                s.accounts
                    .get(&addr)
                    .map(|a| a.code.clone())
                    .unwrap_or_default(),
                false,
            ))
        })
    }

    /// The latest block's number and timestamp.
    pub fn head(&self) -> Result<(u64, u64)> {
        self.with(false, |s| Ok(((s.number, s.timestamp), false)))
    }

    /// A mined transaction's receipt.
    pub fn receipt(&self, hash: B256) -> Result<Option<TxReceipt>> {
        self.with(false, |s| {
            Ok((s.receipts.iter().find(|r| r.hash == hash).cloned(), false))
        })
    }

    /// Logs of `address` whose first topic is `topic0` and second `topic1`.
    pub fn logs(
        &self,
        address: Address,
        topic0: B256,
        topic1: Option<B256>,
    ) -> Result<Vec<LogEntry>> {
        self.with(false, |s| {
            let logs = s
                .receipts
                .iter()
                .filter(|r| r.success)
                .flat_map(|r| r.logs.iter())
                .filter(|l| {
                    l.address == address
                        && l.topics.first() == Some(&topic0)
                        && topic1.is_none_or(|t| l.topics.get(1) == Some(&t))
                })
                .cloned()
                .collect();
            Ok((logs, false))
        })
    }

    /// Moves the chain's clock forward (development and tests: deadlines).
    pub fn advance_time(&self, seconds: u64) -> Result<()> {
        self.with(true, |s| {
            s.time_offset += seconds;
            Ok(((), true))
        })
    }
}

fn block(number: u64, timestamp: u64) -> BlockEnv {
    BlockEnv {
        number: U256::from(number),
        timestamp: U256::from(timestamp),
        gas_limit: BLOCK_GAS_LIMIT,
        basefee: 0,
        prevrandao: Some(B256::ZERO),
        ..Default::default()
    }
}

fn tx_env(from: Address, tx: &TxRequest, nonce: Option<u64>, chain_id: u64) -> Result<TxEnv> {
    let mut b = TxEnv::builder()
        .caller(from)
        .gas_limit(tx.gas.unwrap_or(TX_GAS_LIMIT))
        .gas_price(0)
        .kind(tx.to.map_or(TxKind::Create, TxKind::Call))
        .value(tx.value)
        .data(tx.data.clone())
        .chain_id(Some(chain_id));
    if let Some(n) = nonce {
        b = b.nonce(n);
    }
    b.build()
        .map_err(|e| Error::Chain(format!("bad transaction: {e:?}")))
}

fn receipt(hash: B256, block: u64, result: ExecutionResult) -> TxReceipt {
    let gas_used = result.tx_gas_used();
    let logs = result
        .logs()
        .iter()
        .map(|l| LogEntry {
            address: l.address,
            topics: l.data.topics().to_vec(),
            data: l.data.data.clone(),
            block,
            tx: hash,
        })
        .collect();
    let (success, output, contract) = match result {
        ExecutionResult::Success { output, .. } => match output {
            Output::Create(code, addr) => (true, code, addr),
            Output::Call(b) => (true, b, None),
        },
        ExecutionResult::Revert { output, .. } => (false, output, None),
        ExecutionResult::Halt { reason, .. } => (
            false,
            Bytes::from(format!("halted: {reason:?}").into_bytes()),
            None,
        ),
    };
    TxReceipt {
        hash,
        block,
        success,
        gas_used,
        gas_price: 0,
        contract,
        logs,
        output,
    }
}
