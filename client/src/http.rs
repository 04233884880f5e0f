//! The researcher's client for the gateway API (HTTPS with a pinned CA).

use crate::api::{DatasetMeta, DryRun, Job, Manifest};
use crate::{Error, Result};
use reqwest::multipart::{Form, Part};
use zkgate_chain::alloy_primitives::Address;
use zkgate_chain::Wallet;

/// An error answer from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable error code.
    pub code: String,
    /// Message.
    pub message: String,
    /// The policy rules behind a `policy_denied` answer.
    pub rules: Vec<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

/// Reads the gateway's JSON error body (or keeps the raw text).
fn api_error(status: u16, body: &[u8]) -> ApiError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    ApiError {
        status,
        code: v["error"]["code"].as_str().unwrap_or("unknown").to_string(),
        message: v["error"]["message"].as_str().map_or_else(
            || String::from_utf8_lossy(body).into_owned(),
            str::to_string,
        ),
        rules: v["error"]["rules"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A client result: transport errors as [`Error`], API errors as [`ApiError`].
pub type Answer<T> = std::result::Result<std::result::Result<T, ApiError>, Error>;

/// TLS trusting the platform's roots, with ring as the provider (never a
/// process-wide default, which nothing installs).
fn platform_tls() -> Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let bad = |e: rustls::Error| Error::Config(format!("tls: {e}"));
    Ok(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(bad)?
        .with_platform_verifier()
        .map_err(bad)?
        .with_no_client_auth(),
    )
}

/// A gateway client.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// An error and its causes, one after another (a request error's cause is
/// where a TLS failure says which certificate it refused).
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        let said = c.to_string();
        if !out.contains(&said) {
            out.push_str(": ");
            out.push_str(&said);
        }
        next = c.source();
    }
    out
}

impl Client {
    /// A client for `base` (`https://host:port`, or `http://` for a
    /// plain-HTTP gateway on loopback), trusting `ca_pem` when given, else
    /// the platform's trusted roots (a gateway with a publicly trusted
    /// certificate).
    pub fn new(base: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<Client> {
        let tls = match ca_pem {
            Some(ca) => {
                zkgate_chain::rpc::tls_with_ca(ca).map_err(|e| Error::Config(e.to_string()))?
            }
            None => platform_tls()?,
        };
        let b = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .tls_backend_preconfigured(tls);
        let http = b
            .build()
            .map_err(|e| Error::Config(format!("client: {e}")))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    async fn answer<T: serde::de::DeserializeOwned>(
        r: reqwest::Result<reqwest::Response>,
    ) -> Answer<T> {
        let r = r.map_err(|e| Error::Config(format!("request: {}", causes(&e))))?;
        let status = r.status().as_u16();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| Error::Config(format!("response: {e}")))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map(Ok)
                .map_err(|e| Error::Config(format!("response: {e}")));
        }
        Ok(Err(api_error(status, &bytes)))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// `GET /v1/datasets`.
    pub async fn datasets(&self) -> Answer<Vec<DatasetMeta>> {
        Self::answer(self.get("/v1/datasets").send().await).await
    }

    /// Dataset `name` as `GET /v1/datasets` publishes it (`None`: the
    /// gateway publishes no such dataset).
    pub async fn dataset(&self, name: &str) -> Answer<Option<DatasetMeta>> {
        Ok(self
            .datasets()
            .await?
            .map(|all| all.into_iter().find(|d| d.name == name)))
    }

    /// `POST /v1/jobs`.
    pub async fn submit(&self, manifest: &Manifest, model: Vec<u8>) -> Answer<Job> {
        self.submit_with_key(manifest, model, Vec::new()).await
    }

    /// `POST /v1/jobs` with a ceremony key, the job's circuit's (one proves
    /// every shard; a snarkjs `.zkey` file, its transcript inside), made
    /// over the gateway's powers-of-tau file.
    pub async fn submit_with_key(
        &self,
        manifest: &Manifest,
        model: Vec<u8>,
        ceremony: Vec<Vec<u8>>,
    ) -> Answer<Job> {
        self.submit_with_keys(manifest, model, ceremony, Vec::new())
            .await
    }

    /// `POST /v1/jobs` with ceremony keys sent (`ceremony`) and kept keys
    /// named by their verifying keys' SHA-256 (`kept`, from
    /// [`Client::kept_ceremony_keys`]): together the one key of the job's
    /// circuit.
    pub async fn submit_with_keys(
        &self,
        manifest: &Manifest,
        model: Vec<u8>,
        ceremony: Vec<Vec<u8>>,
        kept: Vec<String>,
    ) -> Answer<Job> {
        let mut form = Form::new()
            .part(
                "manifest",
                Part::text(serde_json::to_string(manifest).expect("manifest serializes")),
            )
            .part("model", Part::bytes(model).file_name("model.onnx"));
        for key in ceremony {
            form = form.part("ceremony_key", Part::bytes(key).file_name("ceremony.zkey"));
        }
        for vk in kept {
            form = form.text("kept_ceremony_key", vk);
        }
        Self::answer(
            self.http
                .post(format!("{}/v1/jobs", self.base))
                .bearer_auth(&self.token)
                .multipart(form)
                .send()
                .await,
        )
        .await
    }

    /// Registers the address of `wallet` for this researcher: fetches a
    /// fresh registration message (`GET /v1/me/address`), signs it with the
    /// wallet's key (`personal_sign`) and sends it back.
    pub async fn register_address(&self, wallet: &Wallet) -> Answer<Address> {
        #[derive(serde::Deserialize)]
        struct Challenge {
            message: String,
        }
        let c: Challenge = match Self::answer(self.get("/v1/me/address").send().await).await? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if zkgate_chain::identity::parse_registration(&c.message).is_none() {
            return Err(Error::Config(
                "the gateway's registration message is not one".into(),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Registered {
            address: Address,
        }
        let body = serde_json::json!({
            "message": c.message,
            "signature": wallet.sign_message(&c.message),
        });
        let r: Answer<Registered> = Self::answer(
            self.http
                .put(format!("{}/v1/me/address", self.base))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await,
        )
        .await;
        r.map(|a| a.map(|r| r.address))
    }

    /// `GET /v1/ceremony/keys`: the ceremony keys the gateway kept from
    /// earlier jobs (verifying-key hash, circuit id, shard rows,
    /// transcript hash, contributors, contribution hashes, ...).
    pub async fn kept_ceremony_keys(&self) -> Answer<Vec<serde_json::Value>> {
        Self::answer(self.get("/v1/ceremony/keys").send().await).await
    }

    /// `GET /v1/ceremony/keys/{vk}`: a kept key's `.zkey`.
    pub async fn kept_ceremony_key(&self, vk: &str) -> Answer<Vec<u8>> {
        self.get_bytes(&format!("/v1/ceremony/keys/{vk}")).await
    }

    /// `GET /v1/ceremony`: the powers-of-tau file's SHA-256 (hex) and power.
    pub async fn ceremony_file(&self) -> Answer<serde_json::Value> {
        Self::answer(self.get("/v1/ceremony").send().await).await
    }

    /// `GET /v1/audit/head`: the audit log's head signed by the gateway's
    /// vault key (keep it: `zkgate audit verify --anchor` checks the log
    /// still holds it).
    pub async fn audit_head(&self) -> Answer<serde_json::Value> {
        Self::answer(self.get("/v1/audit/head").send().await).await
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> Answer<Job> {
        Self::answer(self.get(&format!("/v1/jobs/{id}")).send().await).await
    }

    /// `GET /v1/jobs`.
    pub async fn jobs(&self) -> Answer<Vec<Job>> {
        Self::answer(self.get("/v1/jobs").send().await).await
    }

    /// `POST /v1/jobs/{id}/cancel`.
    pub async fn cancel(&self, id: &str) -> Answer<Job> {
        Self::answer(
            self.http
                .post(format!("{}/v1/jobs/{id}/cancel", self.base))
                .bearer_auth(&self.token)
                .send()
                .await,
        )
        .await
    }

    /// `GET /v1/jobs/{id}/receipt` as JSON text.
    pub async fn receipt(&self, id: &str) -> Answer<String> {
        let v: Answer<serde_json::Value> =
            Self::answer(self.get(&format!("/v1/jobs/{id}/receipt")).send().await).await;
        v.map(|r| r.map(|v| v.to_string()))
    }

    /// `GET /v1/jobs/{id}/vk`.
    pub async fn vk(&self, id: &str) -> Answer<Vec<u8>> {
        self.get_bytes(&format!("/v1/jobs/{id}/vk")).await
    }

    /// `GET /v1/datasets/{name}/mock`: the dataset's mock twin, a CSV of
    /// synthetic rows drawn from its declared schema.
    pub async fn mock(&self, dataset: &str) -> Answer<Vec<u8>> {
        self.get_bytes(&format!("/v1/datasets/{dataset}/mock"))
            .await
    }

    /// `POST /v1/jobs/dry-run`: what submitting would do (admission,
    /// compilation, the policy's decision, the circuit's size and an
    /// estimate of the time), with nothing stored or run.
    pub async fn dry_run(&self, manifest: &Manifest, model: Vec<u8>) -> Answer<DryRun> {
        let form = Form::new()
            .part(
                "manifest",
                Part::text(serde_json::to_string(manifest).expect("manifest serializes")),
            )
            .part("model", Part::bytes(model).file_name("model.onnx"));
        Self::answer(
            self.http
                .post(format!("{}/v1/jobs/dry-run", self.base))
                .bearer_auth(&self.token)
                .multipart(form)
                .send()
                .await,
        )
        .await
    }

    /// `GET /v1/prover/keys/{circuit_id}` (a prover's token): a proving key
    /// as the gateway keeps it.
    pub async fn proving_key(&self, circuit_id: &str) -> Answer<Vec<u8>> {
        self.get_bytes(&format!("/v1/prover/keys/{circuit_id}"))
            .await
    }

    /// `GET path` as JSON (the owner API's reads, `/v1/whoami`).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Answer<T> {
        Self::answer(self.get(path).send().await).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Answer<T> {
        Self::answer(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await,
        )
        .await
    }

    /// `DELETE path`.
    pub async fn delete_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Answer<T> {
        Self::answer(
            self.http
                .delete(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await,
        )
        .await
    }

    /// `POST /v1/owner/datasets`: the owner imports a CSV against its
    /// declared schema into the running gateway.
    pub async fn import_dataset(
        &self,
        name: &str,
        schema: &zkgate_statement::Schema,
        csv: Vec<u8>,
        price: u64,
    ) -> Answer<DatasetMeta> {
        let form = Form::new()
            .part("name", Part::text(name.to_string()))
            .part("price", Part::text(price.to_string()))
            .part(
                "schema",
                Part::text(serde_json::to_string(schema).expect("schema serializes")),
            )
            .part("csv", Part::bytes(csv).file_name("data.csv"));
        Self::answer(
            self.http
                .post(format!("{}/v1/owner/datasets", self.base))
                .bearer_auth(&self.token)
                .multipart(form)
                .send()
                .await,
        )
        .await
    }

    async fn get_bytes(&self, path: &str) -> Answer<Vec<u8>> {
        let r = self
            .get(path)
            .send()
            .await
            .map_err(|e| Error::Config(format!("request: {}", causes(&e))))?;
        let status = r.status().as_u16();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| Error::Config(format!("response: {e}")))?;
        if status == 200 {
            Ok(Ok(bytes.to_vec()))
        } else {
            Ok(Err(api_error(status, &bytes)))
        }
    }
}
