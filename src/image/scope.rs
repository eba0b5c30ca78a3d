//! The scopes of `$client` lists, read from an image: a list whose flags
//! say `$client` applies only to the clients its scope records name (or to
//! every client but those), as `format.rs` lays them out in the client
//! table. The server reads them once per image into its policy
//! (`resolve::scope`); `ralo check` shows them with the list's name.

use super::builder::ListId;
use super::format::{
    CLIENT_RECORD, LIST_FLAG_ALLOW, LIST_FLAG_EXCLUDE, LIST_FLAG_SCOPED, LIST_RECORD, SCOPE_DEVICE,
    SCOPE_NET, read_u32, read_u64,
};
use super::view::{Image, ImageBytes};
use crate::groups::{ClientScope, ScopeClient};

impl<B: ImageBytes> Image<B> {
    /// The scope of a `$client` list; `None` for any other list (or an
    /// unknown id).
    pub fn list_scope(&self, list: ListId) -> Option<ClientScope> {
        let flags = self.list_flags(list)?;
        if flags & LIST_FLAG_SCOPED == 0 {
            return None;
        }
        let clients = (0..self.layout.clients)
            .filter_map(|i| self.scope_record(i))
            .filter(|&(of, _)| of == list)
            .map(|(_, client)| client)
            .collect();
        Some(ClientScope {
            exclude: flags & LIST_FLAG_EXCLUDE != 0,
            clients,
        })
    }

    /// Each `$client` list with its scope, in list-id order.
    pub fn scopes(&self) -> Vec<(ListId, ClientScope)> {
        let mut scopes: Vec<(ListId, ClientScope)> = (0..self.layout.lists)
            .filter_map(|list| {
                let list = ListId::try_from(list).ok()?;
                let flags = self.list_flags(list)?;
                (flags & LIST_FLAG_SCOPED != 0).then(|| {
                    let exclude = flags & LIST_FLAG_EXCLUDE != 0;
                    let scope = ClientScope {
                        exclude,
                        clients: Vec::new(),
                    };
                    (list, scope)
                })
            })
            .collect();
        if scopes.is_empty() {
            return scopes;
        }
        for (list, client) in (0..self.layout.clients).filter_map(|i| self.scope_record(i)) {
            if let Ok(at) = scopes.binary_search_by_key(&list, |(id, _)| *id) {
                scopes[at].1.clients.push(client);
            }
        }
        scopes
    }

    /// The flags `u32` of a list record.
    fn list_flags(&self, list: ListId) -> Option<u32> {
        let id = usize::from(list);
        (id < self.layout.lists).then(|| {
            read_u32(
                self.as_bytes(),
                self.layout.lists_at + id * LIST_RECORD + 16,
            )
        })
    }

    /// Client record `i` as a scope record (kind 4 or 5 with zero group
    /// mask, of a `$client` list), if it is one that decodes.
    pub(super) fn scope_record(&self, i: usize) -> Option<(ListId, ScopeClient)> {
        if i >= self.layout.clients {
            return None;
        }
        let rec = self.layout.clients_at + i * CLIENT_RECORD;
        let record = self.as_bytes().get(rec..rec + CLIENT_RECORD)?;
        let (kind, prefix, family) = (record[0], record[1], record[2]);
        let list = ListId::try_from(read_u32(record, 12)).ok()?;
        let scoped = self.list_flags(list)? & LIST_FLAG_SCOPED != 0;
        if !scoped || record[3] != 0 || read_u64(record, 16) != 0 {
            return None;
        }
        let value = &record[24..40];
        let zero_from = |from: usize| value[from..].iter().all(|&v| v == 0);
        let nameless = read_u32(record, 4) == 0 && read_u32(record, 8) == 0;
        let client = match (kind, family) {
            (SCOPE_NET, 4) if zero_from(4) && nameless => {
                let octets: [u8; 4] = value[..4].try_into().ok()?;
                let net = ipnet::Ipv4Net::new(octets.into(), prefix).ok()?;
                (net.trunc() == net).then_some(ScopeClient::Net(net.into()))?
            }
            (SCOPE_NET, 6) if nameless => {
                let octets: [u8; 16] = value.try_into().ok()?;
                let net = ipnet::Ipv6Net::new(octets.into(), prefix).ok()?;
                (net.trunc() == net).then_some(ScopeClient::Net(net.into()))?
            }
            (SCOPE_DEVICE, 0) if prefix == 0 && zero_from(0) => {
                let name =
                    self.string(read_u32(record, 4) as usize, read_u32(record, 8) as usize)?;
                (!name.is_empty()).then(|| ScopeClient::Device(name.to_owned()))?
            }
            _ => return None,
        };
        Some((list, client))
    }

    /// Whether a list record's flags are known ones: the `$client`
    /// exclude bit only with the `$client` bit.
    pub(super) fn list_flags_valid(&self, list: ListId) -> bool {
        let known = LIST_FLAG_ALLOW | LIST_FLAG_SCOPED | LIST_FLAG_EXCLUDE;
        self.list_flags(list).is_some_and(|flags| {
            flags & !known == 0 && (flags & LIST_FLAG_EXCLUDE == 0 || flags & LIST_FLAG_SCOPED != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::groups::{ClientId, ClientScope};
    use crate::image::{Error, Image, ImageBuilder};

    fn scope(value: &str) -> ClientScope {
        ClientScope::parse(value).unwrap()
    }

    #[test]
    fn scopes_round_trip_beside_the_devices() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let kids = b.add_list("ads", false);
        let not_tv = b.add_list("mine", true);
        b.add_client("10.0.0.9".parse().unwrap(), 1, Some("tv"));
        b.set_scope(kids, scope("192.168.1.0/24|'kid tablet'|fd00::5"));
        b.set_scope(not_tv, scope("~tv"));
        b.add_rule(kids, "x.example", true, false);
        let image = Image::open(b.build(1)).unwrap();
        image.verify().unwrap();
        assert_eq!(image.list_scope(ads), None);
        assert_eq!(
            image.list_scope(kids),
            Some(scope("192.168.1.0/24|'kid tablet'|fd00::5"))
        );
        assert_eq!(image.list_scope(not_tv), Some(scope("~tv")));
        assert_eq!(
            image.scopes(),
            [
                (kids, scope("192.168.1.0/24|'kid tablet'|fd00::5")),
                (not_tv, scope("~tv"))
            ]
        );
        // The devices are what they were.
        let devices: Vec<ClientId> = image.clients().map(|c| c.id).collect();
        assert_eq!(devices, ["10.0.0.9".parse().unwrap()]);
        assert_eq!(image.list_name(kids), Some("ads"));
    }

    #[test]
    fn a_rule_of_a_list_and_of_its_client_list_are_no_copies() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let kids = b.add_list("ads", false);
        b.set_scope(kids, scope("10.0.0.1"));
        let mark = b.mark();
        b.add_rule(ads, "x.example", true, false);
        b.add_rule(kids, "x.example", true, false);
        b.add_rule(kids, "x.example", true, false);
        let settled = b.settle(mark, 10);
        assert_eq!((settled.kept, settled.duplicates), (2, 1));
        let image = Image::open(b.build(1)).unwrap();
        assert_eq!(image.list_rule_count(ads), Some(1));
        assert_eq!(image.list_rule_count(kids), Some(1));
    }

    #[test]
    fn a_scope_record_of_a_list_without_the_flag_is_refused() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        b.set_scope(ads, scope("10.0.0.1"));
        let mut bytes = b.build(1);
        let image = Image::open(bytes.clone()).unwrap();
        let lists_at = image.layout.lists_at;
        drop(image);
        // Clear the `$client` bit of the list's flags.
        bytes[lists_at + 16] = 0;
        let sum = crate::image::checksum(&bytes);
        bytes[16..24].copy_from_slice(&sum.to_le_bytes());
        let image = Image::open(bytes).unwrap();
        assert!(matches!(
            image.verify(),
            Err(Error::BadClient { client: 0 })
        ));
    }
}
