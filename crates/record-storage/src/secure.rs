//! Client-side encryption of record values.
//!
//! Envelope (all integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | `0xF1`, the secure tag |
//! | 1 | envelope version, `1` |
//! | 2..6 | key id |
//! | 6..30 | random 24-byte XChaCha20 nonce |
//! | 30.. | ciphertext of the plain record, then the 16-byte Poly1305 tag |
//!
//! The associated data is a domain label, the length-prefixed namespace (which carries
//! the scope and its ids) and key, and the envelope header: a ciphertext copied onto
//! another record, scope or key id fails authentication.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{AeadInPlace, KeyInit, OsRng};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::codec::SECURE;
use crate::{RecordError, Result};

const VERSION: u8 = 1;
const HEADER: usize = 6;
const NONCE: usize = 24;
const TAG: usize = 16;
const AAD_LABEL: &[u8] = b"fleetstate/record-storage/secure/v1";

/// Bytes a secure envelope adds to the plain record.
pub const OVERHEAD: usize = HEADER + NONCE + TAG;

/// The keys secure records are encrypted with: one primary key for writes and any
/// number of older keys still accepted for reads (rotation).
///
/// Keys are 32 bytes, identified by a `u32` id stored in each record's envelope. Key
/// material is zeroized when the keyring is dropped, and `Debug` shows only the ids.
///
/// ```
/// use record_storage::Keyring;
/// // One key per entry, `id:base64`, the primary first (e.g. from an env var).
/// let spec = "2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
/// let keyring = Keyring::parse(spec)?;
/// assert_eq!(keyring.primary_id(), 2);
/// assert_eq!(keyring.key_ids(), vec![1, 2]);
/// assert!(!format!("{keyring:?}").contains("AAEC"));
/// # Ok::<(), record_storage::RecordError>(())
/// ```
pub struct Keyring {
    primary: u32,
    ciphers: BTreeMap<u32, XChaCha20Poly1305>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring whose primary key is `key`, with id `id`. The caller's copy of the key
    /// is not touched; wrap it in `zeroize::Zeroizing` to have it wiped too.
    pub fn new(id: u32, key: &[u8; 32]) -> Self {
        let mut ciphers = BTreeMap::new();
        ciphers.insert(id, XChaCha20Poly1305::new(key.into()));
        Keyring {
            primary: id,
            ciphers,
        }
    }

    /// A keyring with a fresh random primary key (from the OS), for tests and for
    /// generating keys: export it with your secret manager, not from here.
    pub fn random(id: u32) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut key[..]);
        Keyring::new(id, &key)
    }

    /// A keyring whose primary key is given in standard base64 (44 characters).
    pub fn from_base64(id: u32, key: &str) -> Result<Self> {
        let key = decode_key(key)?;
        Ok(Keyring::new(id, &key))
    }

    /// Parses `id:base64[,id:base64...]`, the first entry being the primary key.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut entries = spec.split(',').map(str::trim).filter(|e| !e.is_empty());
        let first = entries
            .next()
            .ok_or_else(|| RecordError::Keyring("no key given".into()))?;
        let (id, key) = parse_entry(first)?;
        let mut keyring = Keyring::new(id, &key);
        for entry in entries {
            let (id, key) = parse_entry(entry)?;
            keyring = keyring.with_old_key(id, &key)?;
        }
        Ok(keyring)
    }

    /// [`Keyring::parse`] of the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self> {
        let spec = Zeroizing::new(
            std::env::var(var)
                .map_err(|e| RecordError::Keyring(format!("environment variable {var}: {e}")))?,
        );
        Keyring::parse(&spec)
    }

    /// [`Keyring::parse`] of the file at `path` (surrounding whitespace ignored); the
    /// text read is zeroized once parsed.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let spec =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                RecordError::Keyring(format!("keyring file {}: {e}", path.display()))
            })?);
        Keyring::parse(&spec)
    }

    /// Adds a key that is accepted for reads (a previous primary). Errors if `id` is
    /// already in the keyring.
    pub fn with_old_key(mut self, id: u32, key: &[u8; 32]) -> Result<Self> {
        if self.ciphers.contains_key(&id) {
            return Err(RecordError::Keyring(format!("key id {id} appears twice")));
        }
        self.ciphers.insert(id, XChaCha20Poly1305::new(key.into()));
        Ok(self)
    }

    /// The id new records are encrypted with.
    pub fn primary_id(&self) -> u32 {
        self.primary
    }

    /// Every key id, ascending.
    pub fn key_ids(&self) -> Vec<u32> {
        self.ciphers.keys().copied().collect()
    }

    /// Starts an envelope in `out`: header and nonce. The plain record is then appended
    /// and [`Keyring::seal_in_place`] encrypts it where it lies, so the plaintext is
    /// never copied.
    pub(crate) fn begin_envelope(&self, out: &mut Vec<u8>) {
        // ThreadRng: ChaCha12 seeded and periodically reseeded from the OS, a CSPRNG
        // without a system call per nonce.
        let mut nonce = XNonce::default();
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        out.push(SECURE);
        out.push(VERSION);
        out.extend_from_slice(&self.primary.to_be_bytes());
        out.extend_from_slice(&nonce);
    }

    /// Encrypts the plain record that follows the header `begin_envelope` wrote at
    /// `start`, and appends the tag.
    pub(crate) fn seal_in_place(
        &self,
        namespace: &str,
        key: &str,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<()> {
        let (header, rest) = out[start..].split_at_mut(HEADER);
        let (nonce, body) = rest.split_at_mut(NONCE);
        let aad = associated_data(namespace, key, header);
        let cipher = &self.ciphers[&self.primary];
        let tag = cipher
            .encrypt_in_place_detached(XNonce::from_slice(nonce), &aad, body)
            .map_err(|_| RecordError::Encode {
                key: key.to_owned(),
                source: "the value is too long to encrypt".into(),
            })?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Encrypts the plain record `plain` for `(namespace, key)`.
    #[cfg(test)]
    pub(crate) fn seal(&self, namespace: &str, key: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plain.len() + OVERHEAD);
        self.begin_envelope(&mut out);
        out.extend_from_slice(plain);
        self.seal_in_place(namespace, key, &mut out, 0)?;
        Ok(out)
    }

    /// Decrypts an envelope written for `(namespace, key)`.
    pub(crate) fn open(
        &self,
        namespace: &str,
        key: &str,
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let integrity = || RecordError::Integrity {
            key: key.to_owned(),
        };
        if envelope.len() < OVERHEAD || envelope[0] != SECURE || envelope[1] != VERSION {
            return Err(integrity());
        }
        let key_id = u32::from_be_bytes(envelope[2..6].try_into().expect("4 bytes"));
        let cipher = self
            .ciphers
            .get(&key_id)
            .ok_or_else(|| RecordError::UnknownKeyId {
                key: key.to_owned(),
                key_id,
            })?;
        let nonce = XNonce::from_slice(&envelope[HEADER..HEADER + NONCE]);
        let (body, tag) = envelope[HEADER + NONCE..].split_at(envelope.len() - OVERHEAD);
        let aad = associated_data(namespace, key, &envelope[..HEADER]);
        let mut plain = Zeroizing::new(body.to_vec());
        cipher
            .decrypt_in_place_detached(nonce, &aad, &mut plain, Tag::from_slice(tag))
            .map_err(|_| integrity())?;
        Ok(plain)
    }
}

fn associated_data(namespace: &str, key: &str, header: &[u8]) -> Vec<u8> {
    let mut aad =
        Vec::with_capacity(AAD_LABEL.len() + 8 + namespace.len() + key.len() + header.len());
    aad.extend_from_slice(AAD_LABEL);
    for part in [namespace.as_bytes(), key.as_bytes()] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad.extend_from_slice(header);
    aad
}

fn decode_key(b64: &str) -> Result<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| RecordError::Keyring(format!("key is not valid base64: {e}")))?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return Err(RecordError::Keyring(format!(
            "key is {} bytes, XChaCha20-Poly1305 needs 32",
            bytes.len()
        )));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn parse_entry(entry: &str) -> Result<(u32, Zeroizing<[u8; 32]>)> {
    let (id, key) = entry
        .split_once(':')
        .ok_or_else(|| RecordError::Keyring("each key must be written `id:base64`".into()))?;
    let id = id
        .trim()
        .parse::<u32>()
        .map_err(|e| RecordError::Keyring(format!("key id `{id}`: {e}")))?;
    Ok((id, decode_key(key)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let ring = Keyring::random(7);
        let sealed = ring.seal("ns", "k", b"{\"a\":1}").unwrap();
        assert_eq!(sealed.len(), 7 + OVERHEAD);
        assert_eq!(&ring.open("ns", "k", &sealed).unwrap()[..], b"{\"a\":1}");
        for (ns, key) in [("ns", "k2"), ("ns2", "k"), ("n", "sk")] {
            assert!(matches!(
                ring.open(ns, key, &sealed),
                Err(RecordError::Integrity { .. })
            ));
        }
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let ring = Keyring::random(1);
        let sealed = ring.seal("ns", "k", b"secret value").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(ring.open("ns", "k", &bad).is_err(), "byte {i}");
        }
        assert!(ring.open("ns", "k", &sealed[..OVERHEAD - 1]).is_err());
    }

    #[test]
    fn nonces_differ_between_writes() {
        let ring = Keyring::random(1);
        assert_ne!(
            ring.seal("n", "k", b"x").unwrap(),
            ring.seal("n", "k", b"x").unwrap()
        );
    }

    #[test]
    fn bad_keyring_specs_are_clear_errors() {
        for spec in ["", "nokey", "x:AAAA", "1:not base64!", "1:AAAA"] {
            assert!(
                matches!(Keyring::parse(spec), Err(RecordError::Keyring(_))),
                "{spec}"
            );
        }
        let key = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        let dup = format!("1:{key},1:{key}");
        assert!(matches!(Keyring::parse(&dup), Err(RecordError::Keyring(_))));
    }
}
