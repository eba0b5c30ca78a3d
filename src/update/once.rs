//! One update: load every source, compile, guard, publish, persist.
//!
//! 1. **Load**: local files are read; URL sources are downloaded (or, when
//!    only a local file changed, their last downloaded text is reused). A
//!    failing download falls back to its last good copy ([`crate::sources`]).
//! 2. **Compile** into one image, with a per-list report of what it adds and
//!    removes against the image serving now.
//! 3. **Guard**, list by list: an image in which a configured list lost
//!    more than `[update] max_drop` of its rules is not published unless
//!    forced. Lists the config no longer names are dropped and said; the
//!    household's own lists are not guarded.
//! 4. **Publish** it as a sealed memfd to the running server.
//! 5. **Persist** the image to the state folder (write temp, fsync, rename,
//!    fsync dir) so the server boots from it without network. A disk that
//!    does not take it (full, read-only) does not undo the publish: the
//!    server serves it from memory, the status says why it is not saved,
//!    and the next update writes it again. With no server running, the
//!    persisted image is the only delivery, so failing to write it fails
//!    the update.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::status::{ListStatus, Status};
use crate::compile::{self, NoText};
use crate::config::{Config, ListSource};
use crate::control::{self, Reply};
use crate::exchange::{self, SealedImage};
use crate::image::{Image, ImageBytes};
use crate::sources::{Fetcher, Limits, ListText, Location, Origin, SourceSpec, stored_file};
use crate::vocab::unix_ms;

/// How long a publish may take before the updater gives up on the server.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an update published nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state folder or the download cache could not be set up.
    #[error("cannot prepare the state folder {path}: {source}")]
    State {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The fetcher could not be built.
    #[error(transparent)]
    Sources(#[from] crate::sources::Error),
    /// No list gave any text, and the household's lists have no entry.
    #[error("no list could be read or downloaded: nothing to publish (see the warnings above)")]
    NoSources,
    /// A list still in the config has far fewer rules than in the serving
    /// image: a download that collapsed, most likely.
    #[error(
        "list `{list}` has {new} rules, down from {old} in the image serving (more than {share:.0} % fewer): not published. \
         If the list really shrank, run `ralo update --force`; otherwise check its source above"
    )]
    Collapse {
        /// The list's name.
        list: String,
        /// Its rules in the new image.
        new: u64,
        /// Its rules in the serving image.
        old: u64,
        /// `[update] max_drop` as a percentage.
        share: f64,
    },
    /// The image just compiled does not open: a fault of ralo's.
    #[error("the image just compiled does not open ({0}): this is a bug in ralo; please report it")]
    Built(crate::image::Error),
    /// Writing or sealing the image failed.
    #[error("cannot store the image: {0}")]
    Store(exchange::Error),
    /// The server could not be reached (other than not running).
    #[error("cannot publish to the server: {0}")]
    Publish(control::Error),
    /// The server refused the image.
    #[error("the server refused the image: {reason}")]
    Refused {
        /// The server's reason.
        reason: String,
    },
}

/// What should be loaded afresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Download URL sources again (schedule, start, request).
    Refresh,
    /// A local file changed: reuse the texts downloaded last time.
    LocalChange,
}

/// Where the image went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The server serves it now.
    Live,
    /// No server is running; it loads the persisted image at start.
    NoServer,
}

/// What one update did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The new image's generation.
    pub generation: u64,
    /// Rules in it.
    pub rules: usize,
    /// Its size in bytes.
    pub bytes: usize,
    /// Where it went.
    pub delivery: Delivery,
    /// Why it could not be saved to the state folder, if it could not (it
    /// was published all the same; the server serves it from memory).
    pub unsaved: Option<String>,
    /// The lists of the serving image that the config no longer names (or
    /// switched off), with their rules: dropped by the household's choice.
    pub dropped: Vec<(String, u64)>,
    /// Time from the start of the update to the server's acceptance.
    pub took: Duration,
}

impl Report {
    /// The update in words, for the status file (`ralo stats`, the web page).
    pub fn describe(&self) -> String {
        let mut text = format!(
            "published generation {} with {} rules",
            self.generation, self.rules
        );
        if !self.dropped.is_empty() {
            let lists: Vec<String> = self
                .dropped
                .iter()
                .map(|(list, rules)| format!("`{list}` ({rules} rules)"))
                .collect();
            text += &format!(
                "; dropped, as no longer in the config: {}",
                lists.join(", ")
            );
        }
        if let Some(why) = &self.unsaved {
            text += &format!("; served from memory, not saved to disk ({why})");
        }
        text
    }
}

/// Runs updates for one config.
pub struct Updater {
    config: Config,
    fetcher: Fetcher,
    /// Last text of each URL source, by list name: its file on disk (or
    /// the text, when the disk did not take it).
    downloaded: HashMap<String, ListText>,
}

impl Updater {
    /// An updater for `config`, with the download cache in its state folder.
    pub fn new(config: Config) -> Result<Updater, Error> {
        let state = config.paths.state.clone();
        std::fs::create_dir_all(&state).map_err(|source| Error::State {
            path: state.clone(),
            source,
        })?;
        let limits = Limits {
            max_bytes: config.update.max_bytes(),
            timeout: Duration::from_secs(config.update.download_timeout_secs),
            max_shrink: config.update.max_shrink,
            ..Limits::default()
        };
        let fetcher = Fetcher::new(&state, limits)?;
        Ok(Updater {
            config,
            fetcher,
            downloaded: HashMap::new(),
        })
    }

    /// Uses `config` from now on, keeping the texts downloaded so far.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), Error> {
        let downloaded = std::mem::take(&mut self.downloaded);
        *self = Updater::new(config)?;
        self.downloaded = downloaded;
        Ok(())
    }

    /// The config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs one update and records its outcome in the state folder's
    /// status file ([`Status`]), published or not.
    pub async fn run(&mut self, trigger: Trigger, force: bool) -> Result<Report, Error> {
        let mut lists = Vec::new();
        let result = self.attempt(trigger, force, &mut lists).await;
        let (published, generation, message) = match &result {
            Ok(report) => (true, report.generation, report.describe()),
            Err(error) => (false, self.server_generation(), error.to_string()),
        };
        let status = Status {
            time_unix_ms: unix_ms(),
            published,
            generation,
            message,
            lists,
        };
        if let Err(error) = status.store(&self.config.paths.runtime) {
            warn!(%error, "cannot write the update status");
        }
        result
    }

    async fn attempt(
        &mut self,
        trigger: Trigger,
        force: bool,
        lists: &mut Vec<ListStatus>,
    ) -> Result<Report, Error> {
        let started = Instant::now();
        let texts = self.load(trigger).await;
        let previous = self.current_image();
        let server_generation = self.server_generation();
        let persisted_generation = previous.as_ref().map_or(0, Image::generation);
        let generation = server_generation.max(persisted_generation) + 1;
        let before = previous.as_ref().map(list_counts);
        let loaded = compile::borrow(&self.config, &texts);
        let audience = compile::Audience::of(&self.config);
        let caps = compile::Caps::of(&self.config.update);
        let mut compiled = compile::compile(&loaded, &audience, previous, generation, caps);
        lists.extend(compiled.reports.iter().map(ListStatus::of));
        // Nothing to publish: every list failed, and the household's own
        // lists (always there, often empty) have no entry either.
        let empty = |(report, (source, _, _)): (&compile::SourceReport, &(ListSource, bool, _))| {
            match &report.stats {
                None => true,
                Some(stats) => source.household && stats.accepted == 0,
            }
        };
        if texts.iter().any(|(source, _, _)| !source.household)
            && compiled.reports.iter().zip(&texts).all(empty)
        {
            return Err(Error::NoSources);
        }
        let dropped = match before {
            Some(before) => {
                let image =
                    Image::open(std::mem::take(&mut compiled.image)).map_err(Error::Built)?;
                let dropped = self.guard(before, &image, force);
                compiled.image = image.into_inner();
                dropped?
            }
            None => Vec::new(),
        };
        let sealed = SealedImage::create(&compiled.image, "ralo-image").map_err(Error::Store)?;
        let delivery = match control::publish(
            &self.config.paths.server_socket(),
            sealed,
            generation,
            PUBLISH_TIMEOUT,
        ) {
            Ok(Reply::Accepted { .. }) => Delivery::Live,
            Ok(Reply::Refused { reason, .. }) => return Err(Error::Refused { reason }),
            Ok(Reply::State { .. }) => {
                return Err(Error::Refused {
                    reason: "the server answered a publish with its state".into(),
                });
            }
            Err(control::Error::ServerNotRunning { .. }) => Delivery::NoServer,
            Err(e) => return Err(Error::Publish(e)),
        };
        // Persisted second: a full or read-only disk must not keep a
        // compiled image from serving. The next update writes it again.
        let unsaved = match exchange::persist(&compiled.image, &self.config.paths.image_file()) {
            Ok(()) => None,
            Err(error) if delivery == Delivery::Live => {
                warn!(
                    %error,
                    generation,
                    "the new image is live, but not saved: the server serves generation {generation} from memory, and the next update saves it once the disk takes it"
                );
                Some(error.to_string())
            }
            Err(error) => return Err(Error::Store(error)),
        };
        let report = Report {
            generation,
            rules: compiled.rules,
            bytes: compiled.image.len(),
            delivery,
            unsaved,
            dropped,
            took: started.elapsed(),
        };
        match report.delivery {
            Delivery::Live => info!(
                generation,
                rules = report.rules,
                bytes = report.bytes,
                ms = report.took.as_millis() as u64,
                "image published"
            ),
            Delivery::NoServer => info!(
                generation,
                rules = report.rules,
                "image stored; no server is running, it loads it at start"
            ),
        }
        Ok(report)
    }

    /// The guard against a collapsed download, list by list (`before`:
    /// each list of the serving image with its rules): a list in
    /// both the serving image and the new one may not lose more than
    /// `[update] max_drop` of its rules (unless `force`). The household's
    /// own lists, and lists the config no longer names (or switched off),
    /// change by the household's choice: they are not guarded, and the
    /// dropped ones are returned with their rules to be said.
    fn guard(
        &self,
        before: Vec<(String, u64)>,
        new: &Image<Vec<u8>>,
        force: bool,
    ) -> Result<Vec<(String, u64)>, Error> {
        let now = list_counts(new);
        let household = |name: &str| {
            compile::sources(&self.config)
                .any(|(source, _)| source.household && source.name == name)
        };
        let mut dropped = Vec::new();
        for (list, old) in before {
            let Some(&(_, new)) = now.iter().find(|(name, _)| *name == list) else {
                if old > 0 {
                    dropped.push((list, old));
                }
                continue;
            };
            if household(&list) {
                // `ralo unblock` emptying it is the household's choice too.
                continue;
            }
            let floor = old as f64 * (1.0 - self.config.update.max_drop);
            if !force && (new as f64) < floor {
                return Err(Error::Collapse {
                    list,
                    new,
                    old,
                    share: self.config.update.max_drop * 100.0,
                });
            }
        }
        for (list, rules) in &dropped {
            info!(list = %list, rules, "list no longer in the config (or switched off): its rules are dropped");
        }
        Ok(dropped)
    }

    /// The text of every source, block lists first.
    async fn load(&mut self, trigger: Trigger) -> Vec<(ListSource, bool, compile::Text)> {
        let mut out = Vec::new();
        let sources: Vec<(ListSource, bool)> = compile::sources(&self.config)
            .map(|(s, a)| (s.clone(), a))
            .collect();
        for (source, allow) in sources {
            let location = match (&source.url, source.resolved_path(&self.config.base_dir)) {
                (Some(url), _) => Location::Url(url.clone()),
                // The household's list before its first edit: empty.
                (None, Some(path)) if source.household && !path.exists() => {
                    out.push((source, allow, Ok(ListText::from(""))));
                    continue;
                }
                (None, Some(path)) => Location::File(path),
                (None, None) => {
                    out.push((source, allow, Err(NoText::Nowhere)));
                    continue;
                }
            };
            let is_url = matches!(location, Location::Url(_));
            if let (Location::Url(url), Trigger::LocalChange) = (&location, trigger) {
                // Only a local file changed: no download, the last text or
                // the last good copy on disk will do.
                let known = self.downloaded.get(&source.name).cloned();
                let text = known.or_else(|| {
                    stored_file(&self.config.paths.state, &source.name, url)
                        .map(|path| ListText::file(path, self.config.update.max_bytes()))
                });
                if let Some(text) = text {
                    out.push((source, allow, Ok(text)));
                    continue;
                }
            }
            let spec = SourceSpec {
                name: source.name.clone(),
                location,
                allow_http: source.allow_http,
            };
            let text = match self.fetcher.fetch(&spec).await {
                Ok(fetched) => {
                    if let Origin::LastGood { reason } = &fetched.origin {
                        warn!(list = %source.name, %reason, "using the last good copy");
                    }
                    if is_url {
                        self.downloaded
                            .insert(source.name.clone(), fetched.text.clone());
                    }
                    Ok(fetched.text)
                }
                Err(e) => Err(NoText::Source(e)),
            };
            out.push((source, allow, text));
        }
        out
    }

    /// The persisted image, if it is valid.
    fn current_image(&self) -> Option<Image<Vec<u8>>> {
        let bytes = std::fs::read(self.config.paths.image_file()).ok()?;
        let image = Image::open(bytes).ok()?;
        image.verify().ok()?;
        Some(image)
    }

    /// The generation the server serves (0 when none runs).
    fn server_generation(&self) -> u64 {
        control::state(&self.config.paths.server_socket(), Duration::from_secs(2))
            .map_or(0, |r| r.generation())
    }
}

/// Each list of `image` with its rules: with those of its `$client`
/// lists, which carry its name, and its custom answers (a list whose hosts
/// lines turn from blocks into answers, `hosts_addresses = "answer"`, has
/// not collapsed).
fn list_counts<B: ImageBytes>(image: &Image<B>) -> Vec<(String, u64)> {
    let answers = image.rewrites_per_list();
    let mut counts: Vec<(String, u64)> = Vec::new();
    for id in (0..image.list_count()).filter_map(|i| u16::try_from(i).ok()) {
        let (Some(name), Some(rules)) = (image.list_name(id), image.list_rule_count(id)) else {
            continue;
        };
        let rules = rules + answers.get(usize::from(id)).copied().unwrap_or(0);
        match counts.iter_mut().find(|(known, _)| known == name) {
            Some((_, count)) => *count += rules,
            None => counts.push((name.to_owned(), rules)),
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use crate::groups::ClientScope;
    use crate::image::{Image, ImageBuilder};

    #[test]
    fn a_list_counts_with_its_client_lists() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let mine = b.add_list("mine", true);
        let kids = b.add_list("ads", false);
        b.set_scope(kids, ClientScope::parse("10.0.0.1").unwrap());
        b.add_rule(ads, "a.example", true, false);
        b.add_rule(mine, "b.example", true, true);
        b.add_rule(kids, "c.example", true, false);
        b.add_rule(kids, "d.example", true, false);
        let image = Image::open(b.build(1)).unwrap();
        assert_eq!(
            super::list_counts(&image),
            [("ads".to_owned(), 3), ("mine".to_owned(), 1)]
        );
    }
}
