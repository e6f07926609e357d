//! Configuration: defaults, then a TOML file, then `EGRET__…` environment variables, then
//! command-line overrides; parsed and validated before anything binds a port.
//!
//! Every section has defaults, so an empty file (or none) gives a working embedded instance.
//! A bad value stops the process with a [`ConfigError`] that names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Why the configuration was refused. The message always names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is present but not acceptable.
    #[error("configuration key `{key}`: {message}")]
    Invalid {
        /// The dotted key, for example `server.concurrency_limit`.
        key: String,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The file or environment could not be read or parsed (the `config` crate names the
    /// key in its message).
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
}

impl ConfigError {
    /// A refused key.
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// A configuration section that checks its own values.
pub trait Validate {
    /// Refuses the first bad value, naming its key.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// Loads configuration of type `T`: defaults, then `file` (if given, it must exist), then
/// `EGRET__SECTION__KEY` environment variables, then `overrides` (dotted key, value), and
/// validates the result.
pub fn load<T>(file: Option<&Path>, overrides: &[(&str, String)]) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Validate,
{
    let mut builder = config::Config::builder();
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError::invalid(
                "config file",
                format!("{} does not exist", file.display()),
            ));
        }
        builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("EGRET")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true),
    );
    for (key, value) in overrides {
        builder = builder.set_override(*key, value.as_str())?;
    }
    let loaded: T = builder.build()?.try_deserialize()?;
    loaded.validate()?;
    Ok(loaded)
}

/// The settings every Egret process shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the instance keeps its SQLite databases and generated keys.
    pub data_dir: PathBuf,
    /// The address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Which instance this is.
    pub instance: InstanceSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// gRPC server bounds.
    pub server: ServerSettings,
    /// Logging and tracing.
    pub telemetry: TelemetrySettings,
    /// Bearer tokens.
    pub auth: AuthSettings,
    /// Keys for personal data.
    pub keys: KeySettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./egret-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            instance: InstanceSettings::default(),
            database: DatabaseSettings::default(),
            server: ServerSettings::default(),
            telemetry: TelemetrySettings::default(),
            auth: AuthSettings::default(),
            keys: KeySettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        self.instance.validate()?;
        self.database.validate()?;
        self.server.validate()?;
        self.telemetry.validate()?;
        self.auth.validate()?;
        self.keys.validate()?;
        self.metrics.address()?;
        if self.instance.tier == InstanceTier::City && !self.keys.federation_hash_key.is_empty() {
            return Err(ConfigError::invalid(
                "keys.federation_hash_key",
                "is for districts only: the city receives the hashes, and an ID number can be enumerated, so the city must not hold the key that made them",
            ));
        }
        Ok(())
    }
}

/// `[metrics]`: where the process serves its Prometheus metrics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// `host:port` of `GET /metrics`, apart from the gRPC address so that metrics and
    /// personal data never share a port with the public; empty serves none. Each process
    /// serves its own (`egret up` one for the whole instance).
    pub address: String,
}

impl MetricsSettings {
    /// The address to serve on; None when metrics are off.
    pub fn address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let address = self.address.trim();
        if address.is_empty() {
            return Ok(None);
        }
        address.parse().map(Some).map_err(|_| {
            ConfigError::invalid(
                "metrics.address",
                format!("{address:?} is not host:port, such as 127.0.0.1:9464"),
            )
        })
    }
}

/// The tier an instance serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceTier {
    /// The city federation's instance, the top of the sync chain.
    City,
    /// A district federation's (or 市直机关妇工委's) instance, syncing upward.
    District,
}

/// What a district sends upward of the personal data its records hold: a versioned
/// contract that the city checks every batch against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum UpwardProjection {
    /// `minimal/v1`, the default: no plaintext ID number, contacts masked, the ID number
    /// only as its hash under the federation key.
    #[default]
    #[serde(rename = "minimal/v1")]
    Minimal,
    /// `full/v1`: besides, volunteers' ID numbers and unmasked contacts, and registration
    /// forms' unmasked contacts; only with a legal basis, which the city records.
    #[serde(rename = "full/v1")]
    Full,
}

impl UpwardProjection {
    /// Its name on the wire and in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            UpwardProjection::Minimal => "minimal/v1",
            UpwardProjection::Full => "full/v1",
        }
    }

    /// The projection named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [UpwardProjection::Minimal, UpwardProjection::Full]
            .into_iter()
            .find(|projection| projection.as_str() == name)
    }
}

/// The longest legal basis a district may give for sending full records, in characters.
pub const MAX_LEGAL_BASIS_CHARS: usize = 500;

/// Which instance this process belongs to.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct InstanceSettings {
    /// Short id, lowercase letters, digits and hyphens: `xm`, `xm-siming`. Stamped on
    /// every record made here as its origin.
    pub id: String,
    /// City or district.
    pub tier: InstanceTier,
    /// The upstream instance's address; required for a district, empty for the city.
    pub upstream: String,
    /// The name of the root org unit created on first start (a city's; a district's root
    /// is the unit its enrollment names).
    pub root_name: String,
    /// A district's enrollment credential, issued by the city (`egret enrollment
    /// create`); a secret, never logged.
    pub enrollment: String,
    /// What a district sends upward of personal data (PIPL Art. 6, 51): `minimal/v1` by
    /// default, `full/v1` only with `legal_basis`.
    pub upward_projection: UpwardProjection,
    /// Why a district configured with `full/v1` may send full records (the law, agreement
    /// or consent it relies on), at most 500 characters; recorded at the city.
    pub legal_basis: String,
}

impl std::fmt::Debug for InstanceSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("InstanceSettings")
            .field("id", &self.id)
            .field("tier", &self.tier)
            .field("upstream", &self.upstream)
            .field("root_name", &self.root_name)
            .field(
                "enrollment",
                &(!self.enrollment.is_empty()).then_some("(set)"),
            )
            .field("upward_projection", &self.upward_projection)
            .field("legal_basis", &self.legal_basis)
            .finish()
    }
}

impl Default for InstanceSettings {
    fn default() -> Self {
        Self {
            id: "xm".to_string(),
            tier: InstanceTier::City,
            upstream: String::new(),
            root_name: "厦门市巾帼志愿服务总队".to_string(),
            enrollment: String::new(),
            upward_projection: UpwardProjection::Minimal,
            legal_basis: String::new(),
        }
    }
}

impl Validate for InstanceSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let valid_id = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !self.id.starts_with('-')
            && !self.id.ends_with('-');
        if !valid_id {
            return Err(ConfigError::invalid(
                "instance.id",
                format!(
                    "{:?} is not an instance id: use 1 to 32 lowercase letters, digits and inner hyphens, like `xm` or `xm-siming`",
                    self.id
                ),
            ));
        }
        if self.tier == InstanceTier::District && self.upstream.trim().is_empty() {
            return Err(ConfigError::invalid(
                "instance.upstream",
                "a district instance needs the city instance's address",
            ));
        }
        if self.tier == InstanceTier::District && self.enrollment.trim().is_empty() {
            return Err(ConfigError::invalid(
                "instance.enrollment",
                "a district instance needs the enrollment credential the city issued for it (egret enrollment create, at the city)",
            ));
        }
        if self.tier == InstanceTier::City && !self.enrollment.trim().is_empty() {
            return Err(ConfigError::invalid(
                "instance.enrollment",
                "is only for a district instance (instance.tier = \"district\")",
            ));
        }
        if self.root_name.trim().is_empty() {
            return Err(ConfigError::invalid(
                "instance.root_name",
                "must not be empty",
            ));
        }
        self.validate_projection()
    }
}

impl InstanceSettings {
    fn validate_projection(&self) -> Result<(), ConfigError> {
        let basis = self.legal_basis.trim();
        match self.upward_projection {
            UpwardProjection::Full if self.tier != InstanceTier::District => {
                Err(ConfigError::invalid(
                    "instance.upward_projection",
                    "full/v1 is only for a district instance, which sends its records upward",
                ))
            }
            UpwardProjection::Full if basis.is_empty() => Err(ConfigError::invalid(
                "instance.legal_basis",
                "full/v1 sends ID numbers and contacts to the city: name the legal basis for it (the law, agreement or consent relied on)",
            )),
            UpwardProjection::Full if basis.chars().count() > MAX_LEGAL_BASIS_CHARS => {
                Err(ConfigError::invalid(
                    "instance.legal_basis",
                    format!("must be at most {MAX_LEGAL_BASIS_CHARS} characters"),
                ))
            }
            UpwardProjection::Minimal if !basis.is_empty() => Err(ConfigError::invalid(
                "instance.legal_basis",
                "is only read with instance.upward_projection = \"full/v1\"",
            )),
            _ => Ok(()),
        }
    }
}

/// The database.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Empty for the embedded SQLite default (one file per service under `data_dir`);
    /// `postgres://…` for PostgreSQL (one schema per service).
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Validate for DatabaseSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.trim();
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                "must be empty (embedded SQLite), `sqlite:…` or `postgres://…`",
            ));
        }
        if !(1..=1000).contains(&self.max_connections) {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        if self.acquire_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "database.acquire_timeout",
                "must be more than zero",
            ));
        }
        Ok(())
    }
}

/// Bounds of the gRPC server: a deadline, a size limit and a concurrency limit on every call.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// The deadline of a request that brings none.
    #[serde(with = "humantime_serde")]
    pub default_deadline: Duration,
    /// The longest deadline a request may ask for.
    #[serde(with = "humantime_serde")]
    pub max_deadline: Duration,
    /// The largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Requests served at once; more are refused with RESOURCE_EXHAUSTED.
    pub concurrency_limit: usize,
    /// How long shutdown waits for requests in flight.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            default_deadline: Duration::from_secs(30),
            max_deadline: Duration::from_secs(300),
            max_message_bytes: 4 * 1024 * 1024,
            concurrency_limit: 512,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl Validate for ServerSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.default_deadline.is_zero() {
            return Err(ConfigError::invalid(
                "server.default_deadline",
                "must be more than zero",
            ));
        }
        if self.max_deadline < self.default_deadline {
            return Err(ConfigError::invalid(
                "server.max_deadline",
                "must be at least server.default_deadline",
            ));
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_message_bytes) {
            return Err(ConfigError::invalid(
                "server.max_message_bytes",
                "must be between 1024 and 268435456",
            ));
        }
        if !(1..=100_000).contains(&self.concurrency_limit) {
            return Err(ConfigError::invalid(
                "server.concurrency_limit",
                "must be between 1 and 100000",
            ));
        }
        Ok(())
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging and tracing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// A `tracing` filter, for example `info` or `egret_registry=debug,info`.
    pub log_filter: String,
    /// Text or JSON.
    pub log_format: LogFormat,
    /// An OTLP/gRPC endpoint (`http://collector:4317`); empty disables trace export.
    pub otlp_endpoint: String,
    /// The service name reported to the collector.
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_filter: "info".to_string(),
            log_format: LogFormat::Text,
            otlp_endpoint: String::new(),
            service_name: "egret".to_string(),
        }
    }
}

impl Validate for TelemetrySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log_filter) {
            return Err(ConfigError::invalid(
                "telemetry.log_filter",
                format!("not a tracing filter: {error}"),
            ));
        }
        let endpoint = self.otlp_endpoint.trim();
        if !(endpoint.is_empty()
            || endpoint.starts_with("http://")
            || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::invalid(
                "telemetry.otlp_endpoint",
                "must start with http:// or https://",
            ));
        }
        Ok(())
    }
}

/// Bearer tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// How long a token made by `egret token` stays valid.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// The Ed25519 public key that verifies tokens, base64. Empty: derived from the
    /// signing key under `data_dir/keys` (generated on first start).
    pub public_key: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(12 * 3600),
            public_key: String::new(),
        }
    }
}

impl Validate for AuthSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.token_ttl.is_zero() || self.token_ttl > Duration::from_secs(366 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "auth.token_ttl",
                "must be more than zero and at most a year",
            ));
        }
        if !self.public_key.is_empty() && crate::keys::decode_key(&self.public_key).is_none() {
            return Err(ConfigError::invalid(
                "auth.public_key",
                "must be 32 bytes in base64",
            ));
        }
        Ok(())
    }
}

/// Keys that protect personal data. Empty values are generated into
/// `data_dir/keys` on first start; a production deployment sets them from its secret store.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeySettings {
    /// AES-256-GCM key for ID numbers at rest, 32 bytes in base64.
    pub data_encryption_key: String,
    /// HMAC-SHA256 key for finding ID numbers by keyed hash, 32 bytes in base64.
    pub lookup_hash_key: String,
    /// A district's copy of the federation key, 32 bytes in base64: the hash of an ID
    /// number under it goes up to the city, which so recognises one person registered in
    /// two districts. Never generated, and refused at the city: an ID number can be
    /// enumerated, so whoever holds the key can reverse the hashes it receives.
    pub federation_hash_key: String,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never reach a log.
        let set = |key: &String| (!key.is_empty()).then_some("(set)");
        formatter
            .debug_struct("KeySettings")
            .field("data_encryption_key", &set(&self.data_encryption_key))
            .field("lookup_hash_key", &set(&self.lookup_hash_key))
            .field("federation_hash_key", &set(&self.federation_hash_key))
            .finish()
    }
}

impl Validate for KeySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("keys.data_encryption_key", &self.data_encryption_key),
            ("keys.lookup_hash_key", &self.lookup_hash_key),
            ("keys.federation_hash_key", &self.federation_hash_key),
        ] {
            if !value.is_empty() && crate::keys::decode_key(value).is_none() {
                return Err(ConfigError::invalid(key, "must be 32 bytes in base64"));
            }
        }
        Ok(())
    }
}

/// Checks the address of another service: empty (this instance's own listener, where
/// `egret up` serves every service) or an `http://`/`https://` URI.
pub fn check_service_address(key: &str, address: &str) -> Result<(), ConfigError> {
    let address = address.trim();
    if address.is_empty() || address.starts_with("http://") || address.starts_with("https://") {
        return Ok(());
    }
    Err(ConfigError::invalid(
        key,
        "must be empty (this instance) or start with http:// or https://",
    ))
}

/// Parses the address of another service, `http://host:port`, naming `key` if it is not one.
pub fn parse_service_address(key: &str, address: &str) -> Result<http::Uri, ConfigError> {
    let uri: http::Uri = address.trim().parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("{address:?} is not an address like http://host:50051"),
        )
    })?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() || uri.port_u16().is_none() {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{address:?} is not an address like http://host:50051 (scheme http, a host and a port)"
            ),
        ));
    }
    Ok(uri)
}

/// A channel to another service at `address` (or, when empty, at `own_address`), connected
/// on first use so that a process serving both can build it before it listens.
pub fn service_channel(
    key: &str,
    address: &str,
    own_address: SocketAddr,
) -> Result<tonic::transport::Channel, ConfigError> {
    let address = if address.trim().is_empty() {
        format!("http://{own_address}")
    } else {
        address.trim().to_string()
    };
    tonic::transport::Endpoint::from_shared(address)
        .map(|endpoint| crate::links::endpoint(endpoint).connect_lazy())
        .map_err(|_| ConfigError::invalid(key, "is not a URI"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().expect("defaults validate");
    }

    #[test]
    fn file_then_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("egret.toml");
        std::fs::write(
            &file,
            "[server]\nconcurrency_limit = 7\ndefault_deadline = \"5s\"\n[instance]\nid = \"xm-siming\"\ntier = \"district\"\nupstream = \"http://city:50051\"\nenrollment = \"egret-enrollment.xm-siming.x\"\n",
        )
        .expect("write");
        let settings: Settings =
            load(Some(&file), &[("listen", "127.0.0.1:6000".to_string())]).expect("loads");
        assert_eq!(settings.server.concurrency_limit, 7);
        assert_eq!(settings.server.default_deadline, Duration::from_secs(5));
        assert_eq!(settings.instance.id, "xm-siming");
        assert_eq!(settings.listen.port(), 6000);
    }

    #[test]
    fn bad_values_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("egret.toml");
        std::fs::write(&file, "[server]\nconcurrency_limit = 0\n").expect("write");
        let error = load::<Settings>(Some(&file), &[]).expect_err("refused");
        assert!(
            error.to_string().contains("server.concurrency_limit"),
            "{error}"
        );

        std::fs::write(&file, "[instance]\ntier = \"district\"\n").expect("write");
        let error = load::<Settings>(Some(&file), &[]).expect_err("refused");
        assert!(error.to_string().contains("instance.upstream"), "{error}");

        std::fs::write(
            &file,
            "[keys]\nfederation_hash_key = \"ZmVkZXJhdGlvbi1rZXktb2YtdGhlLXRlc3QtZGlzdHI=\"\n",
        )
        .expect("write");
        let error =
            load::<Settings>(Some(&file), &[]).expect_err("the city holds no federation key");
        assert!(
            error.to_string().contains("keys.federation_hash_key"),
            "{error}"
        );

        for instance in [
            "tier = \"district\"\nupstream = \"http://city:50051\"\n",
            "tier = \"city\"\nenrollment = \"egret-enrollment.xm.secret\"\n",
        ] {
            std::fs::write(&file, format!("[instance]\n{instance}")).expect("write");
            let error = load::<Settings>(Some(&file), &[]).expect_err("refused");
            assert!(error.to_string().contains("instance.enrollment"), "{error}");
            assert!(!error.to_string().contains("secret"), "{error}");
        }

        std::fs::write(&file, "[server]\nconcurrency_limit = \"many\"\n").expect("write");
        let error = load::<Settings>(Some(&file), &[]).expect_err("refused");
        assert!(error.to_string().contains("concurrency_limit"), "{error}");
    }

    #[test]
    fn full_records_need_a_district_and_a_legal_basis() {
        struct TestCase {
            instance: &'static str,
            refused_for: Option<&'static str>,
        }
        let district = "id = \"xm-siming\"\ntier = \"district\"\nupstream = \"http://city:50051\"\nenrollment = \"egret-enrollment.xm-siming.x\"\n";
        let long_basis = "法".repeat(MAX_LEGAL_BASIS_CHARS + 1);
        let cases = [
            TestCase {
                instance: "upward_projection = \"minimal/v1\"\n",
                refused_for: None,
            },
            TestCase {
                instance: "upward_projection = \"full/v1\"\nlegal_basis = \"《个人信息保护法》第十三条第一款第一项：志愿者本人书面同意\"\n",
                refused_for: None,
            },
            TestCase {
                instance: "upward_projection = \"full/v1\"\n",
                refused_for: Some("instance.legal_basis"),
            },
            TestCase {
                instance: "upward_projection = \"full/v1\"\nlegal_basis = \"  \"\n",
                refused_for: Some("instance.legal_basis"),
            },
            TestCase {
                instance: "legal_basis = \"同意\"\n",
                refused_for: Some("instance.legal_basis"),
            },
            TestCase {
                instance: "upward_projection = \"everything\"\n",
                refused_for: Some("upward_projection"),
            },
        ];
        #[track_caller]
        fn check(file: &std::path::Path, text: &str, refused_for: Option<&str>) {
            std::fs::write(file, text).expect("write");
            let result = load::<Settings>(Some(file), &[]);
            match (result, refused_for) {
                (Ok(_), None) => {}
                (Err(error), Some(key)) => assert!(error.to_string().contains(key), "{error}"),
                (Ok(_), Some(key)) => panic!("{text:?} loads; expected a refusal naming {key}"),
                (Err(error), None) => panic!("{text:?} is refused: {error}"),
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("egret.toml");
        for case in &cases {
            check(
                &file,
                &format!("[instance]\n{district}{}", case.instance),
                case.refused_for,
            );
        }
        let too_long = format!(
            "[instance]\n{district}upward_projection = \"full/v1\"\nlegal_basis = \"{long_basis}\"\n"
        );
        check(&file, &too_long, Some("instance.legal_basis"));
        let at_the_city = "[instance]\nupward_projection = \"full/v1\"\nlegal_basis = \"同意\"\n";
        check(&file, at_the_city, Some("instance.upward_projection"));
    }
}
