//! Packs on disk and in memory: reads `data/*.toml` and `prompts/*.toml`, validates them,
//! records each in the store with a version, and keeps the parsed packs at hand.
//!
//! A running conversation names the pack version it started with; [`Catalog::get`] fetches
//! older versions from the store, so editing a pack never changes a conversation mid-way.

use crate::core::ids::PackId;
use crate::core::pack::{parse_pack, Pack, PackError};
use crate::store::{PackSource, Store, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The pack the binary ships with, for when no `data/` directory is at hand.
const BUILTIN: &[(&str, &str, &str)] = &[(
    "node-vs-python",
    include_str!("../data/node-vs-python.toml"),
    include_str!("../prompts/node-vs-python.toml"),
)];

/// The pack used when none is named.
pub const DEFAULT_PACK: &str = "node-vs-python";

#[derive(Debug, thiserror::Error)]
pub enum PacksError {
    #[error(transparent)]
    Invalid(#[from] PackError),
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: no packs found (expected data/<id>.toml with prompts/<id>.toml)")]
    Empty(PathBuf),
}

/// Reads every pack under `root` (`root/data/*.toml` with `root/prompts/*.toml`), validating
/// each. Returns the sources without versions; the store assigns those.
pub fn read_dir(root: &Path) -> Result<Vec<(PackSource, Pack)>, PacksError> {
    let data_dir = root.join("data");
    let prompts_dir = root.join("prompts");
    let list = |dir: &Path| -> Result<Vec<PathBuf>, PacksError> {
        let entries = std::fs::read_dir(dir).map_err(|source| PacksError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| PacksError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?
                .path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    };
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| PacksError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let name = |path: &Path| path.display().to_string();

    let data_files = list(&data_dir)?;
    let prompt_files = list(&prompts_dir)?;
    for p in &prompt_files {
        let stem = p.file_stem().unwrap_or_default();
        if !data_files.iter().any(|d| d.file_stem() == Some(stem)) {
            return Err(PackError {
                file: name(p),
                field: "pack".into(),
                message: format!(
                    "no matching criteria file {}",
                    name(&data_dir.join(p.file_name().unwrap_or_default()))
                ),
            }
            .into());
        }
    }
    let mut out = Vec::new();
    for d in &data_files {
        let p = prompts_dir.join(d.file_name().unwrap_or_default());
        if !p.exists() {
            return Err(PackError {
                file: name(d),
                field: "id".into(),
                message: format!("no matching conversation file {}", name(&p)),
            }
            .into());
        }
        let (criteria, prompts) = (read(d)?, read(&p)?);
        let pack = parse_pack(&name(d), &criteria, &name(&p), &prompts)?;
        let stem = d.file_stem().unwrap_or_default().to_string_lossy();
        if pack.id.as_str() != stem {
            return Err(PackError {
                file: name(d),
                field: "id".into(),
                message: format!(
                    "is {:?} but the file is named {stem}.toml; they must agree",
                    pack.id.as_str()
                ),
            }
            .into());
        }
        out.push((
            PackSource {
                id: pack.id.clone(),
                version: 0,
                criteria_name: name(d),
                criteria,
                prompts_name: name(&p),
                prompts,
            },
            pack,
        ));
    }
    if out.is_empty() {
        return Err(PacksError::Empty(data_dir));
    }
    Ok(out)
}

/// The packs built into the binary.
pub fn builtin() -> Vec<(PackSource, Pack)> {
    BUILTIN
        .iter()
        .map(|(id, criteria, prompts)| {
            let (cn, pn) = (format!("data/{id}.toml"), format!("prompts/{id}.toml"));
            let pack = parse_pack(&cn, criteria, &pn, prompts)
                .expect("the built-in pack is validated by the tests");
            (
                PackSource {
                    id: PackId::new(*id),
                    version: 0,
                    criteria_name: cn,
                    criteria: (*criteria).to_owned(),
                    prompts_name: pn,
                    prompts: (*prompts).to_owned(),
                },
                pack,
            )
        })
        .collect()
}

/// Parsed packs by id and version, backed by the store.
pub struct Catalog {
    store: Arc<dyn Store>,
    latest: Vec<(PackId, u32)>,
    cache: RwLock<HashMap<(PackId, u32), Arc<Pack>>>,
}

impl Catalog {
    /// Records `packs` in the store (a changed pack gets a new version) and keeps them.
    pub fn load(store: Arc<dyn Store>, packs: Vec<(PackSource, Pack)>) -> Result<Self, PacksError> {
        let mut latest = Vec::new();
        let mut cache = HashMap::new();
        for (source, pack) in packs {
            let version = store.put_pack(&source)?;
            latest.push((pack.id.clone(), version));
            cache.insert((pack.id.clone(), version), Arc::new(pack));
        }
        Ok(Catalog {
            store,
            latest,
            cache: RwLock::new(cache),
        })
    }

    /// The latest version of every loaded pack, in load order.
    pub fn list(&self) -> Vec<(Arc<Pack>, u32)> {
        self.latest
            .iter()
            .filter_map(|(id, v)| Some((self.cached(id, *v)?, *v)))
            .collect()
    }

    pub fn ids(&self) -> Vec<String> {
        self.latest.iter().map(|(id, _)| id.to_string()).collect()
    }

    /// The latest version of a pack, by id.
    pub fn latest(&self, id: &str) -> Option<(Arc<Pack>, u32)> {
        let (id, v) = self.latest.iter().find(|(p, _)| p.as_str() == id)?;
        Some((self.cached(id, *v)?, *v))
    }

    /// The pack to use when none is named: the shipped default if loaded, else the first.
    pub fn default_pack(&self) -> Option<(Arc<Pack>, u32)> {
        self.latest(DEFAULT_PACK).or_else(|| {
            self.latest
                .first()
                .and_then(|(id, _)| self.latest(id.as_str()))
        })
    }

    /// A specific version, from memory or from the store.
    pub fn get(&self, id: &PackId, version: u32) -> Result<Arc<Pack>, PacksError> {
        if let Some(p) = self.cached(id, version) {
            return Ok(p);
        }
        let source = self.store.pack(id, version)?.ok_or_else(|| PackError {
            file: format!("store: pack {id} v{version}"),
            field: "version".into(),
            message: "not in the store".into(),
        })?;
        let pack = Arc::new(parse_pack(
            &source.criteria_name,
            &source.criteria,
            &source.prompts_name,
            &source.prompts,
        )?);
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((id.clone(), version), pack.clone());
        Ok(pack)
    }

    fn cached(&self, id: &PackId, version: u32) -> Option<Arc<Pack>> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(id.clone(), version))
            .cloned()
    }
}
