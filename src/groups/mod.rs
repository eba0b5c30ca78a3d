//! Who a client is and which lists apply to it when: the ways to recognise
//! a device (`id`), the kernel's address → MAC tables (`neighbours`), the
//! schedule windows of a list (`schedule`) and the clients of a `$client`
//! rule (`scope`).

mod id;
mod neighbours;
mod schedule;
mod scope;

pub use id::{BadClientId, ClientId, canonical};
pub use neighbours::{
    Mac, MacError, Neighbour, neigh_dump_request, parse_neigh_dump, parse_proc_arp, read_table,
};
pub use schedule::{MINUTES_PER_DAY, Schedule, ScheduleError, Weekday, Window};
pub use scope::{ClientScope, ScopeClient, ScopeError, split_unquoted};
