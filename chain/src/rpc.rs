//! An Ethereum JSON-RPC backend over reqwest: legacy (EIP-155)
//! transactions signed here with k256, RLP-encoded with alloy-rlp.
//! Only what settlement needs: chain id, nonce, gas price and estimate,
//! raw transactions and their receipts, calls, balances, logs, and anvil's
//! clock controls for tests.

use crate::client::{LogEntry, TxReceipt, TxRequest, Wallet};
use crate::{Error, Result};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_rlp::{Encodable, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A JSON-RPC node.
#[derive(Debug)]
pub struct Rpc {
    url: String,
    http: reqwest::Client,
    id: AtomicU64,
    /// The node's chain id, asked once.
    chain_id: std::sync::OnceLock<u64>,
}

fn quantity(v: &Value) -> Result<u64> {
    let s = v
        .as_str()
        .ok_or_else(|| Error::Chain(format!("expected a quantity, got {v}")))?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|_| Error::Chain(format!("bad quantity {s}")))
}

fn parse<T: std::str::FromStr>(v: &Value) -> Result<T> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Chain(format!("unexpected value {v}")))
}

/// TLS that trusts the certificates in `ca_pem` (a JSON-RPC node's CA, or a
/// gateway's), with ring as the provider.
pub fn tls_with_ca(ca_pem: &[u8]) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bad = |e: String| Error::Chain(format!("CA certificate: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(c.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the CA file".into()));
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Chain(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

impl Rpc {
    /// A client for `url` (`http://` or `https://` with `tls`).
    pub fn new(url: &str, tls: Option<rustls::ClientConfig>) -> Result<Rpc> {
        // Without a configuration (plain http), TLS trusts nothing.
        let tls = match tls {
            Some(t) => t,
            None => rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Chain(format!("tls: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        let b = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .tls_backend_preconfigured(tls);
        Ok(Rpc {
            url: url.to_string(),
            http: b
                .build()
                .map_err(|e| Error::Chain(format!("client: {e}")))?,
            id: AtomicU64::new(1),
            chain_id: std::sync::OnceLock::new(),
        })
    }

    async fn request(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": self.id.fetch_add(1, Ordering::Relaxed),
            "method": method,
            "params": params,
        });
        let r: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Chain(format!("{}: {e}", self.url)))?
            .json()
            .await
            .map_err(|e| Error::Chain(format!("{}: {method}: {e}", self.url)))?;
        if let Some(err) = r.get("error") {
            let data = err
                .get("data")
                .and_then(|d| {
                    d.as_str()
                        .or_else(|| d.get("data").and_then(|x| x.as_str()))
                })
                .and_then(|s| hex::decode(s.trim_start_matches("0x")).ok());
            return Err(match data {
                Some(d) if !d.is_empty() => Error::Reverted(crate::client::revert_reason(&d)),
                _ => {
                    let msg = err["message"].as_str().unwrap_or("error").to_string();
                    if msg.contains("revert") {
                        Error::Reverted(msg)
                    } else {
                        Error::Chain(format!("{method}: {msg}"))
                    }
                }
            });
        }
        Ok(r.get("result").cloned().unwrap_or(Value::Null))
    }

    fn tx_json(from: Option<Address>, tx: &TxRequest) -> Value {
        let mut v = json!({
            "data": format!("0x{}", hex::encode(&tx.data)),
            "value": format!("{:#x}", tx.value),
        });
        if let Some(to) = tx.to {
            v["to"] = json!(to.to_string());
        }
        if let Some(f) = from {
            v["from"] = json!(f.to_string());
        }
        v
    }

    pub(crate) async fn chain_id(&self) -> Result<u64> {
        if let Some(id) = self.chain_id.get() {
            return Ok(*id);
        }
        let id = quantity(&self.request("eth_chainId", json!([])).await?)?;
        Ok(*self.chain_id.get_or_init(|| id))
    }

    pub(crate) async fn send(&self, from: &Wallet, tx: &TxRequest) -> Result<TxReceipt> {
        let addr = from.address();
        let chain_id = self.chain_id().await?;
        let nonce = quantity(
            &self
                .request(
                    "eth_getTransactionCount",
                    json!([addr.to_string(), "pending"]),
                )
                .await?,
        )?;
        let gas_price = quantity(&self.request("eth_gasPrice", json!([])).await?)?;
        let gas = match tx.gas {
            Some(g) => g,
            None => {
                let est = self
                    .request("eth_estimateGas", json!([Rpc::tx_json(Some(addr), tx)]))
                    .await?;
                let g = quantity(&est)?;
                g + g / 5 + 10_000
            }
        };
        let raw = sign_legacy(from, chain_id, nonce, u128::from(gas_price), gas, tx);
        let hash: B256 = parse(
            &self
                .request(
                    "eth_sendRawTransaction",
                    json!([format!("0x{}", hex::encode(&raw))]),
                )
                .await?,
        )?;
        for _ in 0..600 {
            let r = self
                .request("eth_getTransactionReceipt", json!([hash.to_string()]))
                .await?;
            if !r.is_null() {
                let mut receipt = receipt_from_json(&r)?;
                if !receipt.success {
                    // The node keeps no revert data: replay the call for it.
                    receipt.output = match self.call_from(Some(addr), tx).await {
                        Err(Error::Reverted(m)) => Bytes::from(m.into_bytes()),
                        _ => Bytes::new(),
                    };
                }
                return Ok(receipt);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::Chain(format!(
            "transaction {hash} not mined after 60 s"
        )))
    }

    async fn call_from(&self, from: Option<Address>, tx: &TxRequest) -> Result<Bytes> {
        let out = self
            .request("eth_call", json!([Rpc::tx_json(from, tx), "latest"]))
            .await?;
        let s = out
            .as_str()
            .ok_or_else(|| Error::Chain(format!("eth_call: {out}")))?;
        Ok(Bytes::from(
            hex::decode(s.trim_start_matches("0x"))
                .map_err(|_| Error::Chain("eth_call: not hex".into()))?,
        ))
    }

    pub(crate) async fn call(&self, tx: &TxRequest) -> Result<Bytes> {
        self.call_from(None, tx).await
    }

    pub(crate) async fn balance(&self, addr: Address) -> Result<U256> {
        parse(
            &self
                .request("eth_getBalance", json!([addr.to_string(), "latest"]))
                .await?,
        )
    }

    pub(crate) async fn code(&self, addr: Address) -> Result<alloy_primitives::Bytes> {
        parse(
            &self
                .request("eth_getCode", json!([addr.to_string(), "latest"]))
                .await?,
        )
    }

    pub(crate) async fn now(&self) -> Result<u64> {
        let b = self
            .request("eth_getBlockByNumber", json!(["latest", false]))
            .await?;
        quantity(&b["timestamp"])
    }

    pub(crate) async fn logs(
        &self,
        address: Address,
        topic0: B256,
        topic1: Option<B256>,
    ) -> Result<Vec<LogEntry>> {
        let mut topics = vec![json!(topic0.to_string())];
        if let Some(t) = topic1 {
            topics.push(json!(t.to_string()));
        }
        let v = self
            .request(
                "eth_getLogs",
                json!([{"address": address.to_string(), "topics": topics,
                        "fromBlock": "0x0", "toBlock": "latest"}]),
            )
            .await?;
        v.as_array()
            .ok_or_else(|| Error::Chain("eth_getLogs: not a list".into()))?
            .iter()
            .map(log_from_json)
            .collect()
    }

    pub(crate) async fn advance_time(&self, seconds: u64) -> Result<()> {
        self.request("evm_increaseTime", json!([seconds])).await?;
        self.request("evm_mine", json!([])).await?;
        Ok(())
    }
}

fn log_from_json(l: &Value) -> Result<LogEntry> {
    Ok(LogEntry {
        address: parse(&l["address"])?,
        topics: l["topics"]
            .as_array()
            .ok_or_else(|| Error::Chain("log without topics".into()))?
            .iter()
            .map(parse)
            .collect::<Result<_>>()?,
        data: parse(&l["data"])?,
        block: quantity(&l["blockNumber"])?,
        tx: parse(&l["transactionHash"])?,
    })
}

fn receipt_from_json(r: &Value) -> Result<TxReceipt> {
    Ok(TxReceipt {
        hash: parse(&r["transactionHash"])?,
        block: quantity(&r["blockNumber"])?,
        success: quantity(&r["status"])? == 1,
        gas_used: quantity(&r["gasUsed"])?,
        gas_price: u128::from(quantity(&r["effectiveGasPrice"]).unwrap_or(0)),
        contract: r["contractAddress"].as_str().and_then(|s| s.parse().ok()),
        logs: r["logs"]
            .as_array()
            .map(|ls| ls.iter().map(log_from_json).collect::<Result<Vec<_>>>())
            .transpose()?
            .unwrap_or_default(),
        output: Bytes::new(),
    })
}

/// RLP of a list whose items are already encoded.
fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: usize = items.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(payload + 9);
    Header {
        list: true,
        payload_length: payload,
    }
    .encode(&mut out);
    for i in items {
        out.extend_from_slice(i);
    }
    out
}

fn rlp<T: Encodable + ?Sized>(x: &T) -> Vec<u8> {
    let mut out = Vec::new();
    x.encode(&mut out);
    out
}

/// A signed legacy transaction (EIP-155 replay protection), raw bytes.
pub(crate) fn sign_legacy(
    from: &Wallet,
    chain_id: u64,
    nonce: u64,
    gas_price: u128,
    gas: u64,
    tx: &TxRequest,
) -> Vec<u8> {
    let to = tx.to.map_or_else(|| rlp(&[0u8; 0][..]), |a| rlp(&a));
    let mut fields = vec![
        rlp(&nonce),
        rlp(&gas_price),
        rlp(&gas),
        to,
        rlp(&tx.value),
        rlp(&tx.data[..]),
    ];
    let mut unsigned = fields.clone();
    unsigned.extend([rlp(&chain_id), rlp(&0u8), rlp(&0u8)]);
    let hash = keccak256(rlp_list(&unsigned));
    let (sig, recid) = from
        .key()
        .sign_prehash_recoverable(hash.as_slice())
        .expect("a 32-byte prehash signs");
    let (r, s) = sig.split_bytes();
    let v = u64::from(recid.to_byte()) + chain_id * 2 + 35;
    fields.extend([
        rlp(&v),
        rlp(&U256::from_be_slice(&r)),
        rlp(&U256::from_be_slice(&s)),
    ]);
    rlp_list(&fields)
}
