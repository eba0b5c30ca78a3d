//! Which lists apply to the client asking, now: the serving image's groups,
//! the schedules of its lists and its table of devices, read once per image
//! and per minute of the local week — never per question.
//!
//! A [`Policy`] holds, per list, the groups it applies to at this minute (0
//! while its schedule is off), and the groups of each device the image
//! names ([`Recognition`]: address ranges, the most specific one that holds
//! the address winning, MAC addresses and host names, found through
//! [`Devices`], which a task outside the query path reads every
//! `[client_lookup] refresh_secs`). A client that nothing recognises, or
//! whose device is in no group, is in `default` (group 0).
//!
//! A `$client` list applies, besides, only to the clients its scope names
//! ([`super::scope`]): the policy hands the question's client to the
//! lookup with the lists ([`Lists::Of`]), which asks the scope of such a
//! list when one of its rules matches.
//!
//! A household with no groups, schedules, devices or `$client` rules pays
//! one branch per question: its policy is *trivial*, every list applies to
//! everyone, and the lookup is the plain one.

use std::collections::HashMap;
use std::net::IpAddr;

use super::devices::{Devices, Recognised, Recognition};
use super::scope::{Reach, Scoped};
use crate::groups::{ClientId, MINUTES_PER_DAY, Mac, Weekday};
use crate::image::{Image, ImageBytes, ListId};

/// The group of every client that no group names.
pub const DEFAULT_GROUPS: u64 = 1;

/// Which lists apply to one question's client.
#[derive(Clone, Copy, Debug)]
pub enum Lists<'p> {
    /// Every list.
    All,
    /// The lists active now for one of `groups`: `active[list]` holds the
    /// groups a list applies to at this minute; of the `$client` lists,
    /// those that reach the client.
    Of {
        /// Per list, the groups it applies to now.
        active: &'p [u64],
        /// The client's groups.
        groups: u64,
        /// The client, when the image has `$client` lists.
        reach: Option<Reach<'p>>,
    },
}

impl Lists<'_> {
    /// Whether `list` applies.
    #[inline]
    pub fn applies(&self, list: ListId) -> bool {
        match self {
            Lists::All => true,
            Lists::Of {
                active,
                groups,
                reach,
            } => {
                active
                    .get(usize::from(list))
                    .is_some_and(|active| active & groups != 0)
                    && reach.is_none_or(|reach| reach.holds(list))
            }
        }
    }
}

/// The serving image's policy at one minute of the local week.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Per list: the groups it applies to now.
    active: Vec<u64>,
    /// The groups of each device the image names, with what the network
    /// knows folded in when the devices or the policy change
    /// ([`Policy::with_devices`]).
    recognition: Recognition,
    /// Groups whose blocking is paused: (group bit, until Unix ms).
    paused: Vec<(u64, u64)>,
    /// The scopes of the image's `$client` lists, if it has any.
    scoped: Option<Scoped>,
    /// Every list applies to every group now, no group is paused, and no
    /// list is a `$client` list.
    trivial: bool,
}

impl Policy {
    /// The policy of `image` on `day` at `minute` (local time), with the
    /// groups named in `pauses` (group name → paused until, Unix ms)
    /// paused.
    pub fn new<B: ImageBytes>(
        image: &Image<B>,
        day: Weekday,
        minute: u16,
        pauses: &HashMap<String, u64>,
    ) -> Policy {
        let every_group = u64::MAX >> (64 - image.group_count().clamp(1, 64));
        let active: Vec<u64> = (0..image.list_count())
            .map(|list| {
                let list = list as ListId; // < MAX_LISTS, fits a u16
                let mut windows = image.list_windows(list).peekable();
                let now = windows.peek().is_none() || windows.any(|w| w.is_active(day, minute));
                if now {
                    image.list_groups(list).unwrap_or(0)
                } else {
                    0
                }
            })
            .collect();
        let recognition = Recognition::new(image.clients().map(|c| (c.id, c.groups)));
        let paused: Vec<(u64, u64)> = (0..image.group_count())
            .filter_map(|g| {
                let name = image.group_name(u8::try_from(g).ok()?)?;
                Some((1u64 << g, *pauses.get(name)?))
            })
            .collect();
        let scoped = Scoped::of(image);
        let trivial = paused.is_empty()
            && scoped.is_none()
            && active.iter().all(|&groups| groups == every_group);
        Policy {
            active,
            recognition,
            paused,
            scoped,
            trivial,
        }
    }

    /// This policy with the groups of what `devices` know folded in per
    /// address, for [`groups_now`](Self::groups_now).
    pub fn with_devices(mut self, devices: &Devices) -> Policy {
        self.recognition.with_devices(devices);
        if let Some(scoped) = &mut self.scoped {
            scoped.with_devices(devices);
        }
        self
    }

    /// The groups of `client`, as [`groups_of`](Self::groups_of) gives
    /// them with the devices this policy was made [`with`](Self::with_devices):
    /// the query path's way, one range walk and at most two map reads.
    #[inline]
    pub fn groups_now(&self, client: IpAddr, mac: Option<Mac>) -> u64 {
        match self.recognition.bits(client, mac) {
            0 => DEFAULT_GROUPS,
            groups => groups,
        }
    }

    /// The policy of an image with no groups, schedules or devices.
    pub fn trivial() -> Policy {
        Policy {
            active: Vec::new(),
            recognition: Recognition::default(),
            paused: Vec::new(),
            scoped: None,
            trivial: true,
        }
    }

    /// Whether every list applies to every client now.
    pub fn is_trivial(&self) -> bool {
        self.trivial
    }

    /// Whether some device is recognised by MAC address or host name, so
    /// that [`Devices`] need reading.
    pub fn needs_devices(&self) -> bool {
        self.recognition.needs_devices()
    }

    /// The groups of `client`: those of the most specific range that holds
    /// it, of its MAC address (`mac` when a forwarder gave it, else the
    /// neighbour tables') and of its host names; `default` when none.
    pub fn groups_of(&self, client: IpAddr, mac: Option<Mac>, devices: &Devices) -> u64 {
        let mut groups = 0;
        self.recognition
            .recognise(client, mac, devices, |_, g| groups |= g);
        if groups == 0 { DEFAULT_GROUPS } else { groups }
    }

    /// The ids that recognise `client`, each with its groups, in the order
    /// [`groups_of`](Self::groups_of) asks them (range, MAC address, host
    /// names); empty when nothing does (the client is in `default`).
    pub fn recognised(
        &self,
        client: IpAddr,
        mac: Option<Mac>,
        devices: &Devices,
    ) -> Vec<(ClientId, u64)> {
        let mut ids = Vec::new();
        self.recognition
            .recognise(client, mac, devices, |id, groups| {
                let id = match id {
                    Recognised::Net(net) => ClientId::Net(*net),
                    Recognised::Mac(mac) => ClientId::Mac(*mac),
                    Recognised::Name(name) => ClientId::Name(name.to_owned()),
                };
                ids.push((id, groups));
            });
        ids
    }

    /// The groups `list` applies to at this minute: its groups while its
    /// schedule is on, else none (every group in a trivial policy).
    pub fn active_groups(&self, list: ListId) -> u64 {
        match self.active.get(usize::from(list)) {
            Some(&groups) => groups,
            None if self.trivial => u64::MAX,
            None => 0,
        }
    }

    /// The lists that apply now to `client` (with the MAC address `mac` a
    /// forwarder gave), in `groups`: none of a paused group's, and of the
    /// `$client` lists those that reach it.
    pub fn lists_for(&self, groups: u64, client: IpAddr, mac: Option<Mac>) -> Lists<'_> {
        if self.trivial {
            return Lists::All;
        }
        let groups = match self.paused.is_empty() {
            true => groups,
            false => {
                let now = crate::vocab::unix_ms();
                let paused = self.paused.iter().filter(|&&(_, until)| now < until);
                groups & !paused.fold(0, |mask, &(bit, _)| mask | bit)
            }
        };
        Lists::Of {
            active: &self.active,
            groups,
            reach: self
                .scoped
                .as_ref()
                .map(|scoped| Reach::new(scoped, client, mac)),
        }
    }
}

/// The local day and minute of `now` in `zone`, and the milliseconds until
/// the next minute starts.
pub fn local_minute(now: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> (Weekday, u16, u64) {
    let local = now.to_zoned_datetime(zone.clone());
    let day = Weekday::from_monday0(local.weekday().to_monday_zero_offset() as u8)
        .unwrap_or(Weekday::Mon);
    let minute = (local.hour() as u16 * 60 + local.minute() as u16).min(MINUTES_PER_DAY - 1);
    let into_minute_ms =
        local.second() as u64 * 1000 + (local.subsec_nanosecond() as u64) / 1_000_000;
    (day, minute, 60_000u64.saturating_sub(into_minute_ms).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageBuilder;

    /// Lists: 0 ads (default), 1 social (kids, school nights), 2 tv-strict
    /// (tv); devices: a kids range, a TV by MAC, a laptop by host name.
    fn image() -> Image<Vec<u8>> {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let social = b.add_list("social", false);
        let strict = b.add_list("tv-strict", false);
        let kids = b.add_group("kids").unwrap();
        let tv = b.add_group("tv").unwrap();
        b.set_policy(ads, 1 | 1 << kids | 1 << tv, &[]);
        let nights = "mon-fri 21:00-07:00".parse().unwrap();
        b.set_policy(social, 1 << kids, &[nights]);
        b.set_policy(strict, 1 << tv, &[]);
        b.add_client("192.168.1.64/28".parse().unwrap(), 1 << kids, Some("kids"));
        b.add_client("192.168.1.70".parse().unwrap(), 1 << tv, Some("kids-tv"));
        b.add_client("aa:bb:cc:dd:ee:ff".parse().unwrap(), 1 << tv, Some("tv"));
        b.add_client("laptop.lan".parse().unwrap(), 1 << kids, None);
        Image::open(b.build(1)).unwrap()
    }

    /// A client no scope and no device names.
    fn anyone() -> IpAddr {
        "10.0.0.1".parse().unwrap()
    }

    fn devices() -> Devices {
        let tv = crate::groups::Neighbour {
            addr: "192.168.1.20".parse().unwrap(),
            mac: "aa:bb:cc:dd:ee:ff".parse().unwrap(),
        };
        let leases = "1700000000 11:22:33:44:55:66 192.168.1.30 laptop *\n\
                      1700000000 11:22:33:44:55:77 192.168.1.31 * *\n";
        let records: [(&str, &[IpAddr]); 1] = [("Laptop.LAN", &["192.168.1.31".parse().unwrap()])];
        Devices::new([tv], leases, records)
    }

    /// The groups of `addr`, asked both ways: through the devices, and
    /// through the table folded from them (the query path's).
    fn groups(policy: &Policy, addr: &str) -> u64 {
        let addr = addr.parse().unwrap();
        let walked = policy.groups_of(addr, None, &devices());
        let folded = policy.clone().with_devices(&devices());
        assert_eq!(folded.groups_now(addr, None), walked, "{addr}");
        walked
    }

    #[test]
    fn a_client_is_in_the_groups_that_recognise_it_or_in_default() {
        let policy = Policy::new(&image(), Weekday::Sat, 12 * 60, &HashMap::new());
        assert_eq!(groups(&policy, "10.0.0.1"), DEFAULT_GROUPS);
        assert_eq!(groups(&policy, "192.168.1.65"), 1 << 1);
        assert_eq!(groups(&policy, "::ffff:192.168.1.65"), 1 << 1);
        // The most specific range wins.
        assert_eq!(groups(&policy, "192.168.1.70"), 1 << 2);
        assert_eq!(groups(&policy, "192.168.1.20"), 1 << 2);
        // A host name from the local records ("laptop" in the leases is
        // another name).
        assert_eq!(groups(&policy, "192.168.1.31"), 1 << 1);
        assert_eq!(groups(&policy, "192.168.1.30"), DEFAULT_GROUPS);
        // A MAC address a forwarder gave is the device's.
        let tv = "aa:bb:cc:dd:ee:ff".parse().ok();
        let router = "192.168.1.1".parse().unwrap();
        let via_router = policy.groups_of(router, tv, &devices());
        assert_eq!(via_router, 1 << 2);
        let folded = policy.clone().with_devices(&devices());
        assert_eq!(folded.groups_now(router, tv), 1 << 2);
        // A forwarder's MAC address stands for the neighbour table's, the
        // host names of the address still count.
        let laptop = "192.168.1.31".parse().unwrap();
        assert_eq!(folded.groups_now(laptop, tv), 1 << 1 | 1 << 2);
        assert_eq!(
            folded.groups_now(laptop, tv),
            policy.groups_of(laptop, tv, &devices())
        );
    }

    #[test]
    fn recognised_names_the_ids_that_found_the_client() {
        let policy = Policy::new(&image(), Weekday::Sat, 12 * 60, &HashMap::new());
        let found = |addr: &str| policy.recognised(addr.parse().unwrap(), None, &devices());
        assert_eq!(found("10.0.0.1"), []);
        assert_eq!(
            found("192.168.1.70"),
            [("192.168.1.70".parse().unwrap(), 1 << 2)]
        );
        assert_eq!(
            found("192.168.1.20"),
            [("aa:bb:cc:dd:ee:ff".parse().unwrap(), 1 << 2)]
        );
        assert_eq!(
            found("192.168.1.31"),
            [("laptop.lan".parse().unwrap(), 1 << 1)]
        );
    }

    #[test]
    fn a_list_applies_to_its_groups_while_its_schedule_is_on() {
        let image = image();
        let (ads, social, strict) = (0, 1, 2);
        let friday_night = Policy::new(&image, Weekday::Fri, 22 * 60, &HashMap::new());
        let kid = friday_night.lists_for(1 << 1, anyone(), None);
        assert!(kid.applies(ads) && kid.applies(social) && !kid.applies(strict));
        let saturday_noon = Policy::new(&image, Weekday::Sat, 12 * 60, &HashMap::new());
        assert!(
            !saturday_noon
                .lists_for(1 << 1, anyone(), None)
                .applies(social)
        );
        // Friday's window runs into Saturday morning.
        let saturday_dawn = Policy::new(&image, Weekday::Sat, 6 * 60, &HashMap::new());
        assert!(
            saturday_dawn
                .lists_for(1 << 1, anyone(), None)
                .applies(social)
        );
        let adult = saturday_noon.lists_for(DEFAULT_GROUPS, anyone(), None);
        assert!(adult.applies(ads) && !adult.applies(social) && !adult.applies(strict));
        assert!(!saturday_noon.is_trivial());
    }

    #[test]
    fn a_paused_group_gets_none_of_its_lists_until_the_pause_ends() {
        let image = image();
        let until = crate::vocab::unix_ms() + 60_000;
        let pauses = HashMap::from([("kids".to_owned(), until), ("nobody".to_owned(), until)]);
        let policy = Policy::new(&image, Weekday::Fri, 22 * 60, &pauses);
        let kid = policy.lists_for(1 << 1, anyone(), None);
        assert!(!kid.applies(0) && !kid.applies(1));
        // A client in kids and tv keeps tv's lists.
        let both = policy.lists_for(1 << 1 | 1 << 2, anyone(), None);
        assert!(both.applies(0) && both.applies(2) && !both.applies(1));
        let over = HashMap::from([("kids".to_owned(), 1)]);
        let policy = Policy::new(&image, Weekday::Fri, 22 * 60, &over);
        assert!(policy.lists_for(1 << 1, anyone(), None).applies(1));
    }

    #[test]
    fn an_image_without_groups_is_trivial() {
        let mut b = ImageBuilder::new();
        b.add_list("ads", false);
        b.add_list("mine", true);
        b.add_client("10.0.0.1".parse().unwrap(), DEFAULT_GROUPS, Some("pc"));
        let image = Image::open(b.build(1)).unwrap();
        let policy = Policy::new(&image, Weekday::Mon, 0, &HashMap::new());
        assert!(policy.is_trivial() && !policy.needs_devices());
        assert!(matches!(
            policy.lists_for(policy.groups_now(anyone(), None), anyone(), None),
            Lists::All
        ));
    }

    #[test]
    fn the_local_minute_follows_the_zone() {
        // 2026-12-05 is a Saturday; 23:30:15 UTC is 00:30:15 on Sunday in
        // a zone one hour ahead.
        let now: jiff::Timestamp = "2026-12-05T23:30:15Z".parse().unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(
            local_minute(now, &utc),
            (Weekday::Sat, 23 * 60 + 30, 45_000)
        );
        let ahead = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
        assert_eq!(local_minute(now, &ahead).0, Weekday::Sun);
        assert_eq!(local_minute(now, &ahead).1, 30);
    }
}

/// The grouped lookup against a naive model: random lists with random
/// groups and schedules, random devices by address range, random clients
/// and times. The model finds a client's groups by reading every range
/// (the most specific that holds the address wins, `default` when none),
/// takes the lists of those groups whose schedule is on, and walks the
/// query's suffixes over a set of each list's rules.
#[cfg(test)]
pub(super) mod model {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;
    use crate::groups::Window;
    use crate::image::{ImageBuilder, Match, Verdict};
    use ipnet::IpNet;

    const LABELS: [&str; 3] = ["a", "b", "c"];

    #[derive(Clone, Debug)]
    struct List {
        allow: bool,
        groups: u64,
        windows: Vec<Window>,
        /// (name, subtree)
        rules: Vec<(String, bool)>,
    }

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&LABELS[..]), 1..=3).prop_map(|l| l.join("."))
    }

    fn window() -> impl Strategy<Value = Window> {
        (1u8..128, 0u16..1440, 1u16..=1440)
            .prop_filter_map("start and end differ", |(days, start, end)| {
                Window::new(days, start, end).ok()
            })
    }

    fn list(groups: usize) -> impl Strategy<Value = List> {
        let mask = 1u64..(1 << groups);
        let windows = prop::collection::vec(window(), 0..2);
        let rules = prop::collection::vec((name(), any::<bool>()), 0..6);
        (any::<bool>(), mask, windows, rules).prop_map(|(allow, groups, windows, rules)| List {
            allow,
            groups,
            windows,
            rules,
        })
    }

    /// A range of 10.0.0.0/24 with the groups it is in.
    fn device(groups: usize) -> impl Strategy<Value = (IpNet, u64)> {
        (0u8..=255, 24u8..=32, 1u64..(1 << groups)).prop_map(|(host, prefix, groups)| {
            let net = IpNet::new(IpAddr::from([10, 0, 0, host]), prefix).unwrap();
            (net.trunc(), groups)
        })
    }

    fn naive_groups(devices: &[(IpNet, u64)], client: IpAddr) -> u64 {
        let best = devices
            .iter()
            .filter(|(net, _)| net.contains(&client))
            .map(|(net, _)| net.prefix_len())
            .max();
        let groups = devices
            .iter()
            .filter(|(net, _)| Some(net.prefix_len()) == best && net.contains(&client))
            .fold(0, |mask, (_, groups)| mask | groups);
        if groups == 0 { DEFAULT_GROUPS } else { groups }
    }

    fn written(lists: &[List]) -> Vec<(bool, &[(String, bool)])> {
        lists
            .iter()
            .map(|l| (l.allow, l.rules.as_slice()))
            .collect()
    }

    /// The verdict on `query` of `lists`, each an allow flag and its
    /// (name, subtree) rules, of which those for which `applies` is true
    /// count: the most specific allow beats any block, read off the rules
    /// as written.
    pub(in crate::resolve) fn naive_verdict(
        lists: &[(bool, &[(String, bool)])],
        applies: &dyn Fn(usize) -> bool,
        query: &str,
    ) -> Verdict {
        let labels: Vec<&str> = query.split('.').collect();
        let best = |allow: bool| {
            let mut best = None;
            for start in (0..labels.len()).rev() {
                let suffix = labels[start..].join(".");
                let hit = lists
                    .iter()
                    .enumerate()
                    .find_map(|(id, &(is_allow, rules))| {
                        let rules: HashSet<&(String, bool)> = rules.iter().collect();
                        let subtree = rules.contains(&(suffix.clone(), true));
                        let exact = start == 0 && rules.contains(&(suffix.clone(), false));
                        (is_allow == allow && applies(id) && (subtree || exact)).then_some(Match {
                            list: id as ListId,
                            subtree,
                            labels: (labels.len() - start) as u8,
                            regex: None,
                            important: allow,
                        })
                    });
                if hit.is_some() {
                    best = hit;
                }
            }
            best
        };
        match (best(true), best(false)) {
            (Some(allow), overrides) => Verdict::Allowed { allow, overrides },
            (None, Some(block)) => Verdict::Blocked(block),
            (None, None) => Verdict::NotListed,
        }
    }

    /// Groups, lists, devices, queries (client host, name), day, minute.
    type Case = (
        usize,
        Vec<List>,
        Vec<(IpNet, u64)>,
        Vec<(u8, String)>,
        u8,
        u16,
    );

    fn cases() -> impl Strategy<Value = Case> {
        (1usize..5).prop_flat_map(|groups| {
            (
                Just(groups),
                prop::collection::vec(list(groups), 1..6),
                prop::collection::vec(device(groups), 0..5),
                prop::collection::vec((any::<u8>(), name()), 1..20),
                0u8..7,
                0u16..1440,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_grouped_lookup_agrees_with_a_naive_model(
            (groups, lists, devices, queries, day, minute) in cases()
        ) {
            let mut b = ImageBuilder::new();
            for g in 1..groups {
                b.add_group(&format!("g{g}")).unwrap();
            }
            for (i, list) in lists.iter().enumerate() {
                let id = b.add_list(&format!("l{i}"), list.allow);
                b.set_policy(id, list.groups, &list.windows);
                for (name, subtree) in &list.rules {
                    b.add_rule(id, name, *subtree, list.allow);
                }
            }
            for (net, groups) in &devices {
                b.add_client(ClientId::Net(*net), *groups, None);
            }
            let image = Image::open(b.build(1)).unwrap();
            let day = Weekday::from_monday0(day).unwrap();
            let policy = Policy::new(&image, day, minute, &HashMap::new());
            for (host, query) in &queries {
                let client = IpAddr::from([10, 0, 0, *host]);
                let want_groups = naive_groups(&devices, client);
                prop_assert_eq!(policy.groups_of(client, None, &Devices::default()), want_groups);
                prop_assert_eq!(policy.groups_now(client, None), want_groups);
                let active = |id: usize| {
                    let list = &lists[id];
                    list.groups & want_groups != 0
                        && (list.windows.is_empty() || list.windows.iter().any(|w| w.is_active(day, minute)))
                };
                // As the resolver asks: the client's groups, then their lists.
                let lists_now = policy.lists_for(policy.groups_now(client, None), client, None);
                let got = image.lookup_for(query, |list| lists_now.applies(list));
                prop_assert_eq!(got, naive_verdict(&written(&lists), &active, query), "{} from {}", query, client);
            }
        }
    }
}
