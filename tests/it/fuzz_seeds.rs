//! The seed corpus of the fuzz targets (`fuzz/corpus/<target>/seed-*`),
//! built here from real DNS messages (hickory-proto), list lines of each
//! syntax, real images and the shipped configs.
//!
//! `seed_corpus_is_committed` fails when a seed is missing or stale;
//! `cargo test --test it write_seed_corpus -- --ignored` writes them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use ralo::answer::{Answer, Rcode, Rewrite};
use ralo::fuzzing::{UPSTREAM_ID, UPSTREAM_QUESTIONS};
use ralo::groups::ClientScope;
use ralo::image::ImageBuilder;
use ralo::querytypes::QueryTypes;

/// Seeds by target, then by file name.
type Seeds = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("seed name")
}

fn query_message(id: u16, text: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name(text), qtype));
    if let Some(payload) = edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        message.set_edns(e);
    }
    message
}

fn bytes(message: &Message) -> Vec<u8> {
    message.to_vec().expect("encode seed")
}

fn header(id: u16, flags: u16, qd: u16) -> Vec<u8> {
    [id, flags, qd, 0, 0, 0]
        .iter()
        .flat_map(|f| f.to_be_bytes())
        .collect()
}

fn client_queries() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut put = |file: &str, data: Vec<u8>| {
        out.insert(format!("seed-{file}"), data);
    };
    // The second ID byte is even: a client on loopback; odd: outside.
    let plain = [
        ("a-www", "www.example.com.", RecordType::A),
        ("aaaa-blocked", "x.ads.example.", RecordType::AAAA),
        ("a-blocked-exact", "tracker.example.", RecordType::A),
        ("https-blocked", "ads.example.", RecordType::HTTPS),
        ("a-allowed", "ok.ads.example.", RecordType::A),
        ("a-local", "nas.home.arpa.", RecordType::A),
        ("aaaa-local", "NAS.Home.Arpa.", RecordType::AAAA),
        ("ptr-local", "10.1.168.192.in-addr.arpa.", RecordType::PTR),
        ("ptr-private", "1.0.0.10.in-addr.arpa.", RecordType::PTR),
        ("any", "www.example.com.", RecordType::ANY),
        ("axfr", "example.com.", RecordType::AXFR),
        ("canary", "use-application-dns.net.", RecordType::A),
        ("localhost", "localhost.", RecordType::A),
        ("single-label", "router.", RecordType::A),
        ("mixed-case", "WwW.ExAmPlE.CoM.", RecordType::A),
        ("resolver-arpa", "_dns.resolver.arpa.", RecordType::SVCB),
        ("txt-blocked", "doubleclick.net.", RecordType::TXT),
    ];
    for (i, (file, text, qtype)) in plain.into_iter().enumerate() {
        let id = 0x1000 + 2 * i as u16;
        put(file, bytes(&query_message(id, text, qtype, Some(1232))));
    }
    put(
        "no-edns",
        bytes(&query_message(
            0x2000,
            "x.ads.example.",
            RecordType::A,
            None,
        )),
    );
    put(
        "outside-client",
        bytes(&query_message(
            0x2001,
            "www.example.com.",
            RecordType::A,
            Some(1232),
        )),
    );
    let mut chaos = query_message(0x2002, "version.bind.", RecordType::TXT, None);
    chaos.queries[0].set_query_class(DNSClass::CH);
    put("chaos", bytes(&chaos));
    let mut small = query_message(0x2004, "x.ads.example.", RecordType::AAAA, Some(100));
    small.edns.as_mut().expect("edns").set_dnssec_ok(true);
    put("small-payload-do", bytes(&small));
    let mut v1 = query_message(0x2006, "www.example.com.", RecordType::A, Some(1232));
    v1.edns.as_mut().expect("edns").set_version(1);
    put("edns-v1", bytes(&v1));
    let mut notify = query_message(0x2008, "example.com.", RecordType::SOA, None);
    notify.metadata.op_code = OpCode::Notify;
    put("notify", bytes(&notify));
    let mut two = query_message(0x200a, "www.example.com.", RecordType::A, None);
    two.add_query(Query::query(name("ads.example."), RecordType::MX));
    put("two-questions", bytes(&two));
    put("no-question", header(0x200c, 0x0100, 0));
    let label = "a".repeat(63);
    let long = format!("{label}.{label}.{label}.ads.example.");
    put(
        "long-name",
        bytes(&query_message(0x200e, &long, RecordType::A, None)),
    );
    let mut response = query_message(0x2010, "www.example.com.", RecordType::A, None);
    response.metadata.message_type = MessageType::Response;
    put("response", bytes(&response));
    let mut garbage = header(0x2012, 0x0100, 1);
    garbage.extend_from_slice(&[0xff; 7]);
    put("garbage-body", garbage);
    // A response with a body that does not decode: dropped, not FORMERR.
    let mut reflected = header(0x2016, 0x8100, 1);
    reflected.extend_from_slice(&[0xff; 7]);
    put("response-garbage", reflected);
    let mut pointer = header(0x2014, 0x0100, 1);
    pointer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    put("self-pointer", pointer);
    put("short", vec![0x12, 0x34, 0x01, 0x00, 0x00]);
    out
}

fn record(owner: &Name, ttl: u32, data: RData) -> Record {
    Record::from_rdata(owner.clone(), ttl, data)
}

fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
    let data = SOA::new(
        name("ns1.example.com."),
        name("hostmaster.example.com."),
        2026112601,
        7200,
        900,
        1_209_600,
        minimum,
    );
    record(&name(owner), ttl, RData::SOA(data))
}

fn upstream_answers() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (index, &(text, qtype)) in UPSTREAM_QUESTIONS.iter().enumerate() {
        let owner = name(text);
        let reply = |rcode: ResponseCode| {
            let mut m = Message::new(UPSTREAM_ID, MessageType::Response, OpCode::Query);
            m.metadata.recursion_desired = true;
            m.metadata.recursion_available = true;
            m.metadata.response_code = rcode;
            m.add_query(Query::query(owner.clone(), qtype));
            let mut e = Edns::new();
            e.set_max_payload(1232);
            m.set_edns(e);
            m
        };
        let mut answer = reply(ResponseCode::NoError);
        let data = match qtype {
            RecordType::A => RData::A(A::new(192, 0, 2, 1)),
            RecordType::AAAA => RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            RecordType::MX => RData::MX(MX::new(10, name("mail.example.net."))),
            _ => RData::TXT(TXT::new(vec!["v=spf1 -all".into()])),
        };
        answer.add_answer(record(&owner, 300, data.clone()));
        answer.add_answer(record(&owner, 30, data));
        let mut cname = reply(ResponseCode::NoError);
        let target = name("edge.cdn.example.");
        cname.add_answer(record(&owner, 600, RData::CNAME(CNAME(target.clone()))));
        cname.add_answer(record(&target, 20, RData::A(A::new(198, 51, 100, 7))));
        cname.add_additional(record(
            &target,
            20,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        ));
        let mut nxdomain = reply(ResponseCode::NXDomain);
        nxdomain.add_authority(soa("example.com.", 900, 300));
        let mut nodata = reply(ResponseCode::NoError);
        nodata.add_authority(soa("example.com.", 60, 3600));
        let mut bare_nx = reply(ResponseCode::NXDomain);
        bare_nx.metadata.authentic_data = true;
        let servfail = reply(ResponseCode::ServFail);
        let mut truncated = reply(ResponseCode::NoError);
        truncated.metadata.truncation = true;
        let mut zero_ttl = reply(ResponseCode::NoError);
        zero_ttl.add_answer(record(&owner, 0, RData::A(A::new(192, 0, 2, 9))));
        for (file, message) in [
            ("answer", answer),
            ("cname", cname),
            ("nxdomain", nxdomain),
            ("nodata", nodata),
            ("nxdomain-no-soa", bare_nx),
            ("servfail", servfail),
            ("truncated", truncated),
            ("zero-ttl", zero_ttl),
        ] {
            let mut data = vec![index as u8];
            data.extend(bytes(&message));
            out.insert(format!("seed-q{index}-{file}"), data);
        }
    }
    out
}

fn list_texts() -> BTreeMap<String, Vec<u8>> {
    let texts = [
        (
            "hosts",
            "# hosts\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n0.0.0.0 ads.example.com\n\
             0.0.0.0\tOne.example two.example # trackers\n127.0.0.1 bad!.example\r\n\
             0.0.0.0 0.0.0.0\nfe80::1%eth0 zone.example\n0.0.0.0 # nothing\n",
        ),
        (
            "domains",
            "# domains\nads.example.com\n*.tracker.example\nkinesis.*.amazonaws.com\n\
             example.com # note\nexample.com.\nbanner..example\nбанрек.рус\n88.85.75.147\n\
             a.com b.com\n",
        ),
        (
            "adblock",
            "[Adblock Plus 2.0]\n! Title: test\n||ads.example.com^\n@@||ok.ads.example.com^\n\
             ||x.com^$popup\n||tracker.example^$important\n|exact.example^\n://anchor.example^\n\
             example.org##.banner\n/banner[0-9]+/\n||zoda.ru/\n||adsjudo.com.^\n.sub.example^\n",
        ),
        (
            "regex",
            "# Pi-hole regex list\n^ad[sxv]?[0-9]*\\.\n(^|\\.)tiktok(v|cdn)?\\.com$\n\
             ^(.+[_.-])?telemetry[_.-];querytype=A,AAAA\nabc;querytype=!A\nabc;invert\n\
             abc;reply=nxdomain\n(unclosed\n(a)\\1\nx;querytype=CNAMEX\n^[[:digit:]]{3,}\\.x$\n\
             ^ad[sxv]?[0-9]*\\.\n;querytype=A\n",
        ),
        (
            "rewrite",
            "! custom answers\n||nas.example^$dnsrewrite=NOERROR;A;192.168.1.10\n\
             ||nas.example^$dnsrewrite=fd00::10\n|r.example^$dnsrewrite=REFUSED\n\
             ||nx.example^$important,dnsrewrite=NXDOMAIN;;\n@@||ok.nas.example^$dnsrewrite\n\
             ||c.example^$dnsrewrite=target.example\n||m.example^$dnsrewrite=NOERROR;MX;10 m.example\n\
             ||bad.example^$dnsrewrite=NOERROR;A;::1\n@@||x.example^$dnsrewrite=1.2.3.4\n\
             ||t.example^$dnstype=A,dnsrewrite=1.2.3.4\n192.168.1.10 nas.lan printer.lan\n\
             fd00::10 nas.lan\n0.0.0.0 ads.example\n",
        ),
        (
            "mixed",
            "0.0.0.0 a.example\nb.example\n||c.example^\n<p>html</p>\n1,google.com\n\
             ads.example\nads.example\n*\n",
        ),
    ];
    let mut out = BTreeMap::new();
    for (file, text) in texts {
        // Flags: bits 0-1 format, bit 2 allowlist, bit 3 subdomains, bit
        // 4 the regex format, bit 5 hosts addresses answered.
        for flags in [0u8, 1, 2, 3, 4, 8, 16, 20, 32, 41] {
            let mut data = vec![flags];
            data.extend_from_slice(text.as_bytes());
            out.insert(format!("seed-{file}-{flags}"), data);
        }
    }
    out
}

/// A built image with a fixed creation time and its checksum redone, so
/// the seed's bytes do not change from run to run.
fn fixed_image(builder: ImageBuilder, generation: u64) -> Vec<u8> {
    let mut image = builder.build(generation);
    image[40..48].copy_from_slice(&1_795_000_000u64.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&image[24..]);
    image[16..24].copy_from_slice(&sum.to_le_bytes());
    image
}

fn images() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    out.insert("seed-empty".to_owned(), fixed_image(ImageBuilder::new(), 1));
    let mut small = ImageBuilder::new();
    let ads = small.add_list("ads", false);
    let mine = small.add_list("mine", true);
    small.add_rule(ads, "tracker.example", true, false);
    small.add_rule(ads, "exact.example", false, false);
    small.add_rule(ads, "example.net", true, false);
    small.add_rule(mine, "ok.example.net", false, true);
    out.insert("seed-small".to_owned(), fixed_image(small, 7));
    let mut wider = ImageBuilder::new();
    let lists: Vec<_> = ["ads", "malware", "telemetry"]
        .iter()
        .map(|list| wider.add_list(list, false))
        .collect();
    let allow = wider.add_list("household", true);
    for i in 0..40u16 {
        let list = lists[usize::from(i) % lists.len()];
        wider.add_rule(list, &format!("n{i}.ads.example"), i % 3 == 0, false);
    }
    wider.add_rule(allow, "n3.ads.example", false, true);
    out.insert("seed-wider".to_owned(), fixed_image(wider, 42));
    // Groups, a schedule, and names that several lists give.
    let mut grouped = ImageBuilder::new();
    let ads = grouped.add_list("ads", false);
    let social = grouped.add_list("social", false);
    let kids_allow = grouped.add_list("kids-allow", true);
    let kids = grouped.add_group("kids").expect("room for a group");
    let tv = grouped.add_group("tv").expect("room for a group");
    let night = "mon-fri 21:00-07:00".parse().expect("a valid window");
    grouped.set_policy(social, 1 << kids | 1 << tv, &[night]);
    grouped.set_policy(kids_allow, 1 << kids, &[]);
    for (list, name, subtree) in [
        (ads, "tracker.example", true),
        (social, "tracker.example", false),
        (social, "video.example", true),
        (ads, "video.example", true),
        (social, "chat.example", false),
    ] {
        grouped.add_rule(list, name, subtree, false);
    }
    grouped.add_rule(kids_allow, "learn.video.example", false, true);
    for (id, groups, name) in [
        ("192.168.1.64/28", 1 << kids, Some("kids-tablet")),
        ("fd00::50", 1 << kids, Some("kids-tablet")),
        ("aa:bb:cc:dd:ee:ff", 1 << tv, Some("tv")),
        ("laptop.lan", 1, None),
    ] {
        grouped.add_client(id.parse().expect("a valid id"), groups, name);
    }
    out.insert("seed-grouped".to_owned(), fixed_image(grouped, 9));
    // `$client` lists: one for a range and a device, one for every client
    // but the TV.
    let mut scoped = ImageBuilder::new();
    let ads = scoped.add_list("ads", false);
    let for_kids = scoped.add_list("ads", false);
    let not_tv = scoped.add_list("ads", true);
    let scope = |value: &str| ClientScope::parse(value).expect("a valid scope");
    scoped.set_scope(for_kids, scope("192.168.1.64/28|fd00::/64|'kid tablet'"));
    scoped.set_scope(not_tv, scope("~tv"));
    scoped.add_rule(ads, "tracker.example", true, false);
    scoped.add_rule(for_kids, "video.example", true, false);
    scoped.add_rule(not_tv, "tracker.example", false, true);
    scoped.add_client("aa:bb:cc:dd:ee:ff".parse().expect("a MAC"), 1, Some("tv"));
    scoped.add_client(
        "192.168.1.70".parse().expect("an address"),
        1,
        Some("kid tablet"),
    );
    out.insert("seed-scoped".to_owned(), fixed_image(scoped, 11));
    // Regex rules of a block list, one for A questions, and an allow regex.
    let mut regex = ImageBuilder::new();
    let ads = regex.add_list("ads", false);
    let patterns = regex.add_list("regex", false);
    let allow = regex.add_list("allow-regex", true);
    regex.add_rule(ads, "exact.example", false, false);
    let a_only = QueryTypes::parse("A").expect("a type");
    for (line, pattern, types) in [
        (1, r"(^|\.)tracker\.example$", QueryTypes::ALL),
        (2, r"^ad[sxv]?[0-9]*\.", QueryTypes::ALL),
        (3, r"^(.+[_.-])?telemetry[_.-]", a_only),
    ] {
        regex
            .add_regex(patterns, pattern, false, types, line)
            .expect("a small regex");
    }
    regex
        .add_regex(allow, r"^ok\.", true, QueryTypes::ALL, 1)
        .expect("a small regex");
    out.insert("seed-regex".to_owned(), fixed_image(regex, 11));
    // Custom answers: records, codes, an exception, two lists.
    let mut answers = ImageBuilder::new();
    let ads = answers.add_list("ads", false);
    let home = answers.add_list("home", false);
    answers.add_rule(ads, "tracker.example", true, false);
    let a = |last| Rewrite::To(Answer::A(Ipv4Addr::new(192, 168, 1, last)));
    let v6 = Rewrite::To(Answer::Aaaa("fd00::10".parse().expect("an address")));
    for (list, name, subtree, rewrite, line) in [
        (home, "nas.example", false, a(10), 1),
        (home, "nas.example", false, a(11), 2),
        (home, "nas.example", false, v6, 3),
        (
            ads,
            "tracker.example",
            true,
            Rewrite::To(Answer::Rcode(Rcode::Refused)),
            2,
        ),
        (ads, "ok.tracker.example", true, Rewrite::Off, 3),
        (home, "tracker.example", true, a(12), 4),
    ] {
        assert!(answers.add_rewrite(list, name, subtree, rewrite, line));
    }
    out.insert("seed-rewrite".to_owned(), fixed_image(answers, 13));
    out
}

fn image_models() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    // Two lists (the second an allowlist), 4 rules, then queries.
    out.insert(
        "seed-two-lists".to_owned(),
        vec![
            0x09, 4, // lists, rules
            0x14, 0, 1, // list 0 subtree, "a.b"
            0x00, 2, // list 0 exact, "ab"
            0x09, 0, // list 1 allow exact, "a"
            0x1d, 1, 0, // list 1 allow subtree, "b.a"
            0x03, 0, 1, 2, // query a.b.ab
            0x82, 0x80, 0x81, // query A.B. (root)
            0x01, 0xf0, // query "."
        ],
    );
    // Three lists (the third an allowlist), 5 rules of every rank.
    out.insert(
        "seed-important".to_owned(),
        vec![
            0x12, 5, // lists, rules
            0x96, 0, 1, // list 0 important block subtree, "a.b"
            0x2e, 4, 0, 1, // list 1 allow subtree, "xyz.a.b"
            0xa9, 2, 0, 1, // list 1 important allow exact, "ab.a.b"
            0x29, 3, 0, 1, // list 2 (allowlist) allow exact, "c.a.b"
            0x06, 1, // list 0 block subtree, "b"
            0x03, 4, 0, 1, // query xyz.a.b
            0x03, 2, 0, 1, // query ab.a.b
            0x03, 3, 0, 1, // query c.a.b
            0x01, 1, 1, // query b.b
            0x01, 0, 1, // query a.b
        ],
    );
    // Three block lists: a `$denyallow` rule, a rule on its exempt name in
    // another list, and one that leaves out its own parent.
    out.insert(
        "seed-denyallow".to_owned(),
        vec![
            0x02, 3, // lists, rules
            0x15, 0x88, 1, // list 0 subtree "a.b" $denyallow=b.a.b
            0x22, 1, 0, 1, // list 1 exact "b.a.b"
            0x02, 0xc3, // list 2 "c" $denyallow=a.c|c
            0x02, 1, 0, 1, // query b.a.b
            0x03, 3, 1, 0, 1, // query c.b.a.b
            0x02, 0, 0, 1, // query a.a.b
            0x01, 0, 1, // query a.b
            0x01, 0, 3, // query a.c
        ],
    );
    out.insert(
        "seed-deep".to_owned(),
        vec![
            0x00, 2, 0x24, 5, 5, 5, 0x04, 4, // subtree "ads.ads.ads", subtree "xyz"
            0x17, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 5, 5, 5, 4, 4, 4, 4,
        ],
    );
    out
}

fn configs() -> BTreeMap<String, Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = BTreeMap::new();
    for (file, path) in [
        ("seed-config-ralo.toml", "config/ralo.toml"),
        ("seed-deploy-ralo.toml", "deploy/ralo.toml"),
    ] {
        let text = std::fs::read(root.join(path)).expect("shipped config");
        out.insert(file.to_owned(), text);
    }
    let small = r#"[server]
listen = ["127.0.0.1:5353"]

[upstream]
servers = ["192.0.2.53", "[2001:db8::53]:5353", "tls://192.0.2.53#dns.example", "https://dns.example/dns-query"]
bootstrap = ["192.0.2.53"]
timeout_ms = 400
deadline_ms = 1500
max_tries = 2

[local.records]
"nas.home.arpa" = ["192.168.1.10", "fd00::10"]

[[lists]]
name = "ads"
path = "ads.txt"
format = "hosts"

[[lists]]
name = "mine"
path = "block.txt"
household = true

[[allowlists]]
name = "remote"
url = "https://lists.example/allow.txt"
"#;
    out.insert("seed-small.toml".to_owned(), small.as_bytes().to_vec());
    let groups = r#"[[clients]]
name = "kids-tablet"
ids = ["192.168.1.50", "192.168.1.64/28", "aa:bb:cc:dd:ee:ff", "fd00::50", "tablet.lan"]

[[groups]]
name = "kids"
clients = ["kids-tablet", "192.168.1.70"]

[[lists]]
name = "social"
path = "social.txt"
groups = ["kids", "default"]
schedule = ["mon-fri 21:00-07:00", "sat,sun 22:00-08:00"]

[[allowlists]]
name = "school"
path = "school.txt"
groups = ["kids"]

[client_lookup]
leases = "dnsmasq.leases"
trusted_forwarders = ["192.168.1.1", "fd00::/126"]
refresh_secs = 30
"#;
    out.insert("seed-groups.toml".to_owned(), groups.as_bytes().to_vec());
    out
}

/// Every seed, by target.
fn seeds() -> Seeds {
    BTreeMap::from([
        ("client_query", client_queries()),
        ("upstream_answer", upstream_answers()),
        ("list_text", list_texts()),
        ("image_bytes", images()),
        ("image_model", image_models()),
        ("config_text", configs()),
    ])
}

#[test]
fn seed_corpus_is_committed() {
    for (target, files) in seeds() {
        let dir = corpus_dir(target);
        for (file, data) in files {
            let committed = std::fs::read(dir.join(&file))
                .unwrap_or_else(|e| panic!("{target}/{file}: {e}; write the seeds"));
            assert!(
                committed == data,
                "{target}/{file} is stale; write the seeds"
            );
        }
    }
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*; run after changing a seed"]
fn write_seed_corpus() {
    for (target, files) in seeds() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for (file, data) in files {
            std::fs::write(dir.join(file), data).expect("write seed");
        }
    }
}
