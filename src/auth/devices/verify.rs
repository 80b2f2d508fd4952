//! [`Devices`]: the credentials file in force, shared by every handler and
//! replaced whole on reload, and HTTP Basic checked against it.
//!
//! A bcrypt check is slow on purpose (~0.24 s at cost 12), so it runs on a
//! blocking thread, at most [`BCRYPT_SLOTS`] at once with at most
//! [`MAX_WAITING`] waiting; a verified password is remembered for
//! [`CACHE_TTL`] (at most [`CACHE_ENTRIES`], keyed by a salted SHA-256 of the
//! password, never the password); a user with [`MAX_FAILURES`] failed
//! attempts in [`FAILURE_WINDOW`] is refused without a check until the
//! window ends. An unknown user, or an entry without a password, is checked
//! against a stand-in hash of the same cost and refused the same way.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, OnceLock, PoisonError, RwLock,
    },
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::{DeviceCredentials, DeviceFileError};
use crate::domain::{error::Error, DriverId};

/// bcrypt checks running at once.
pub const BCRYPT_SLOTS: usize = 2;
/// Checks that may wait for a slot; more are refused as busy.
pub const MAX_WAITING: usize = 64;
/// How long a verified password is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// Most verified passwords remembered.
pub const CACHE_ENTRIES: usize = 10_000;
/// Failed attempts a user may make in one window.
pub const MAX_FAILURES: u32 = 5;
/// The window failed attempts are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most users whose failures are counted at once.
pub const FAILURE_USERS: usize = 10_000;

/// Why HTTP Basic credentials were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    /// Unknown user, no password for this device, or a wrong password (the
    /// same answer for each, so it does not say which users exist).
    #[error("bad device credentials")]
    Rejected,
    /// Too many failed attempts for this user: try again after `retry_after`.
    #[error("too many failed attempts for this user; try again in {}s", retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: Duration },
    /// Too many password checks waiting already.
    #[error("too many password checks in progress; try again shortly")]
    Busy,
}

impl From<DeviceAuthError> for Error {
    fn from(e: DeviceAuthError) -> Self {
        match e {
            DeviceAuthError::Rejected => Error::Unauthenticated(e.to_string()),
            DeviceAuthError::TooManyAttempts { .. } | DeviceAuthError::Busy => {
                Error::TooManyRequests(e.to_string())
            }
        }
    }
}

/// The device credentials in force, shared and reloadable. Cheap to clone.
#[derive(Clone)]
pub struct Devices {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Arc<DeviceCredentials>>,
    /// Bumped on every reload: a check that began before it caches nothing.
    generation: AtomicU64,
    cache: Mutex<HashMap<CacheKey, (DriverId, Instant)>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    slots: Semaphore,
    waiting: AtomicUsize,
    /// Salts the password digests the cache keeps (per process).
    pepper: [u8; 16],
    /// Stand-in hashes by cost, made on first need.
    stand_ins: Mutex<HashMap<u32, Arc<OnceLock<String>>>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    user: String,
    device: Option<String>,
    digest: [u8; 32],
}

impl Devices {
    /// The shared set, starting with `creds`.
    pub fn new(creds: DeviceCredentials) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: RwLock::new(Arc::new(creds)),
                generation: AtomicU64::new(0),
                cache: Mutex::new(HashMap::new()),
                failures: Mutex::new(HashMap::new()),
                slots: Semaphore::new(BCRYPT_SLOTS),
                waiting: AtomicUsize::new(0),
                pepper: rand::random(),
                stand_ins: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The credentials in force now.
    pub fn current(&self) -> Arc<DeviceCredentials> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads `path` again and puts it in force (forgetting the verified
    /// passwords); a bad file is refused, logged, and the old set kept.
    pub fn reload(&self, path: &Path) -> Result<Arc<DeviceCredentials>, DeviceFileError> {
        match DeviceCredentials::load(path) {
            Ok(creds) => {
                let creds = Arc::new(creds);
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = creds.clone();
                self.inner.generation.fetch_add(1, Ordering::SeqCst);
                lock(&self.inner.cache).clear();
                tracing::info!(
                    devices = creds.len(),
                    "device credentials reloaded from {}",
                    path.display()
                );
                Ok(creds)
            }
            Err(e) => {
                tracing::warn!("device credentials kept as they were: {e}");
                Err(e)
            }
        }
    }

    /// Checks HTTP Basic credentials of `user` (for `device`, when the app
    /// names it) and answers the driver they report for.
    pub async fn verify_basic(
        &self,
        user: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<DriverId, DeviceAuthError> {
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let creds = self.current();
        let key = CacheKey {
            user: user.to_owned(),
            device: device.map(str::to_owned),
            digest: self.digest(password),
        };
        let now = Instant::now();
        if let Some((driver, at)) = lock(&self.inner.cache).get(&key) {
            if now.duration_since(*at) < CACHE_TTL {
                return Ok(driver.clone());
            }
        }
        self.not_locked_out(user, now)?;
        let entry = creds.entry(user, device);
        let (hash, driver) = match entry.and_then(|e| e.hash.clone().map(|h| (h, &e.driver))) {
            Some((hash, driver)) => (hash, Some(driver.clone())),
            None => (self.stand_in(creds.stand_in_cost()).await?, None),
        };
        let matched = self.check(password.to_owned(), hash).await?;
        match driver.filter(|_| matched) {
            Some(driver) => {
                lock(&self.inner.failures).remove(user);
                if self.inner.generation.load(Ordering::SeqCst) == generation {
                    self.remember(key, driver.clone(), Instant::now());
                }
                Ok(driver)
            }
            None => {
                self.count_failure(user, Instant::now());
                Err(DeviceAuthError::Rejected)
            }
        }
    }

    /// Refuses a user locked out by its failed attempts.
    fn not_locked_out(&self, user: &str, now: Instant) -> Result<(), DeviceAuthError> {
        let mut failures = lock(&self.inner.failures);
        if let Some((count, since)) = failures.get(user).copied() {
            let elapsed = now.duration_since(since);
            if elapsed >= FAILURE_WINDOW {
                failures.remove(user);
            } else if count >= MAX_FAILURES {
                return Err(DeviceAuthError::TooManyAttempts {
                    retry_after: FAILURE_WINDOW - elapsed,
                });
            }
        } else if failures.len() >= FAILURE_USERS {
            failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
            if failures.len() >= FAILURE_USERS {
                // Failing closed: a flood of bad logins must not reset the
                // counts of the users it targets.
                tracing::warn!("too many users with failed device logins; refusing new ones");
                return Err(DeviceAuthError::TooManyAttempts {
                    retry_after: FAILURE_WINDOW,
                });
            }
        }
        Ok(())
    }

    fn count_failure(&self, user: &str, now: Instant) {
        let mut failures = lock(&self.inner.failures);
        if failures.len() >= FAILURE_USERS && !failures.contains_key(user) {
            return;
        }
        let (count, since) = failures.entry(user.to_owned()).or_insert((0, now));
        if now.duration_since(*since) >= FAILURE_WINDOW {
            *count = 0;
            *since = now;
        }
        *count += 1;
    }

    fn remember(&self, key: CacheKey, driver: DriverId, now: Instant) {
        let mut cache = lock(&self.inner.cache);
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (_, at)| now.duration_since(*at) < CACHE_TTL);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (driver, now));
    }

    fn digest(&self, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.inner.pepper);
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    /// Runs one bcrypt check on a blocking thread, within the slots.
    async fn check(&self, password: String, hash: String) -> Result<bool, DeviceAuthError> {
        self.blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
    }

    /// A hash of a random password at `cost`, made once per cost.
    async fn stand_in(&self, cost: u32) -> Result<String, DeviceAuthError> {
        let cell = lock(&self.inner.stand_ins).entry(cost).or_default().clone();
        if let Some(hash) = cell.get() {
            return Ok(hash.clone());
        }
        let made = self
            .blocking(move || {
                let secret: [u8; 16] = rand::random();
                bcrypt::hash(secret, cost).unwrap_or_default()
            })
            .await?;
        Ok(cell.get_or_init(|| made).clone())
    }

    /// Runs `work` on a blocking thread once a slot is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DeviceAuthError> {
        let waiting = Waiting::enter(&self.inner.waiting)?;
        let permit = self.inner.slots.acquire().await;
        drop(waiting);
        let _permit = permit.map_err(|_| DeviceAuthError::Busy)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| DeviceAuthError::Busy)
    }
}

/// One check waiting for a slot, counted until it gets one or is dropped
/// (its client went away).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Result<Self, DeviceAuthError> {
        if count.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            count.fetch_sub(1, Ordering::SeqCst);
            return Err(DeviceAuthError::Busy);
        }
        Ok(Self(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
