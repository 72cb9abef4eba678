//! Agents: a manifest (the compute provider an agent runs on, its system prompt, its
//! sampling parameters, the zg-storage roots of files it reads) kept in zg-storage and
//! registered on chain under its owner. This module reads and checks a manifest and
//! turns it, with its files, into the chat request a provider answers.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// Largest manifest, bytes.
pub const MAX_MANIFEST: usize = 64 << 10;
/// Longest system prompt, bytes.
pub const MAX_SYSTEM: usize = 16 << 10;
/// Most files one agent reads.
pub const MAX_FILES: usize = 8;
/// Largest file an agent reads into its context, bytes.
pub const MAX_FILE: u64 = 256 << 10;
/// Most tokens an agent may ask its provider for in one answer.
pub const MAX_TOKENS: u64 = 4096;

/// An agent's definition, as its owner writes it (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Its name in the registry (a-z, 0-9, '.', '_', '-').
    pub name: String,
    /// Its version; a redeploy names a new one.
    pub version: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The compute provider it runs on (an InferenceServing provider address).
    pub provider: Address,
    /// The model it expects the provider to serve (empty: whatever it serves).
    #[serde(default)]
    pub model: String,
    /// Its system prompt.
    #[serde(default)]
    pub system: String,
    /// How it samples.
    #[serde(default)]
    pub parameters: Parameters,
    /// Files in zg-storage it reads into its context, by root.
    #[serde(default)]
    pub files: Vec<FileRef>,
}

/// Sampling parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    /// 0 (greedy) to 2.
    pub temperature: Option<f64>,
    /// 1 to [`MAX_TOKENS`] (default 256).
    pub max_tokens: Option<u64>,
}

/// A file an agent reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// What the agent calls it.
    pub name: String,
    /// Its root in zg-storage.
    pub root: B256,
}

/// Why a manifest is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    /// Over [`MAX_MANIFEST`].
    #[error("the manifest is {0} bytes; at most {MAX_MANIFEST} are taken")]
    TooLarge(usize),
    /// Not the JSON a manifest is.
    #[error("not an agent manifest: {0}")]
    Json(String),
    /// A field breaks its rule.
    #[error("the manifest's {field} {reason}")]
    Field {
        /// Which.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn field(field: &'static str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Field {
        field,
        reason: reason.into(),
    }
}

impl Manifest {
    /// Parses and checks a manifest's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Checks the fields' rules (the registry checks name and version again).
    pub fn check(&self) -> Result<(), ManifestError> {
        let name_ok = zg_contracts::registry::valid_name(&self.name);
        if !name_ok {
            return Err(field(
                "name",
                "is 1-64 bytes of a-z, 0-9, '.', '_' and '-', starting with a letter or a digit",
            ));
        }
        if self.version.is_empty() || self.version.len() > zg_contracts::registry::MAX_VERSION {
            return Err(field("version", "is 1-32 bytes"));
        }
        if self.system.len() > MAX_SYSTEM {
            return Err(field("system", format!("prompt is over {MAX_SYSTEM} bytes")));
        }
        if self.provider == Address::ZERO {
            return Err(field("provider", "names no provider"));
        }
        if let Some(t) = self.parameters.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(field("parameters", "temperature is from 0 to 2"));
        }
        if let Some(n) = self.parameters.max_tokens
            && !(1..=MAX_TOKENS).contains(&n)
        {
            return Err(field(
                "parameters",
                format!("max_tokens is from 1 to {MAX_TOKENS}"),
            ));
        }
        if self.files.len() > MAX_FILES {
            return Err(field("files", format!("are more than {MAX_FILES}")));
        }
        if self.files.iter().any(|f| f.name.is_empty() || f.name.len() > 128) {
            return Err(field("files", "each have a name of 1-128 bytes"));
        }
        Ok(())
    }

    /// The chat request for `prompt`, with each file's text (in manifest order) after
    /// the system prompt.
    pub fn request(&self, model: &str, files: &[String], prompt: &str) -> serde_json::Value {
        let mut system = self.system.clone();
        for (file, text) in self.files.iter().zip(files) {
            system.push_str(&format!("\n\n--- {} ---\n{text}", file.name));
        }
        let mut messages = Vec::new();
        if !system.trim().is_empty() {
            messages.push(serde_json::json!({"role": "system", "content": system}));
        }
        messages.push(serde_json::json!({"role": "user", "content": prompt}));
        let mut request = serde_json::json!({
            "model": model,
            "messages": messages,
            "max_tokens": self.parameters.max_tokens.unwrap_or(256),
        });
        if let Some(t) = self.parameters.temperature {
            request["temperature"] = t.into();
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"name":"helper","version":"1","provider":"0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "system":"Answer briefly.","parameters":{"temperature":0,"max_tokens":16},
        "files":[{"name":"facts.txt","root":"0x1111111111111111111111111111111111111111111111111111111111111111"}]}"#;

    #[test]
    fn a_manifest_becomes_a_chat_request_with_its_files() {
        let m = Manifest::parse(GOOD.as_bytes()).unwrap();
        let r = m.request("m", &["the sky is green".into()], "what colour is the sky?");
        assert_eq!(r["max_tokens"], 16);
        assert_eq!(r["temperature"], 0.0);
        let system = r["messages"][0]["content"].as_str().unwrap();
        assert_eq!(system, "Answer briefly.\n\n--- facts.txt ---\nthe sky is green");
        assert_eq!(r["messages"][1]["content"], "what colour is the sky?");
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let with = |from: &str, to: &str| Manifest::parse(GOOD.replace(from, to).as_bytes()).unwrap_err();
        assert!(matches!(
            with(r#""name":"helper""#, r#""name":"Helper""#),
            ManifestError::Field { field: "name", .. }
        ));
        assert!(matches!(
            with(r#""version":"1""#, r#""version":"""#),
            ManifestError::Field { field: "version", .. }
        ));
        assert!(matches!(
            with("\"temperature\":0", "\"temperature\":3"),
            ManifestError::Field {
                field: "parameters",
                ..
            }
        ));
        assert!(matches!(
            with("\"max_tokens\":16", "\"max_tokens\":0"),
            ManifestError::Field {
                field: "parameters",
                ..
            }
        ));
        assert!(matches!(with("\"system\"", "\"sytem\""), ManifestError::Json(_)));
        assert!(matches!(
            with(
                "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
                "0x0000000000000000000000000000000000000000"
            ),
            ManifestError::Field {
                field: "provider",
                ..
            }
        ));
        let big = vec![b' '; MAX_MANIFEST + 1];
        assert_eq!(
            Manifest::parse(&big),
            Err(ManifestError::TooLarge(MAX_MANIFEST + 1))
        );
    }
}
