// Crypto-miner traces, written for podmortem (README "YARA"). Each rule names its severity
// (info, low, medium, high, critical), what it looks for and why.

rule miner_stratum_url
{
    meta:
        description = "A mining pool URL (stratum+tcp://, stratum+ssl://, stratum+tls://, stratum2+tcp://) with a host and a port"
        severity = "high"
        reference = "https://en.bitcoin.it/wiki/Stratum_mining_protocol"
    strings:
        $url = /stratum2?\+(tcp|ssl|tls):\/\/[A-Za-z0-9._\-]{1,253}:[0-9]{2,5}/ nocase
    condition:
        $url
}

rule miner_xmrig_config
{
    meta:
        description = "Three or more keys of an XMRig configuration (JSON or command line) in one place: the miner kinsing, TeamTNT and most cloud cryptojackers run"
        severity = "high"
        reference = "https://xmrig.com/docs/miner/config"
    strings:
        $donate = "\"donate-level\"" ascii
        $donate_cli = "--donate-level" ascii
        $randomx = "\"randomx\"" ascii
        $huge = "\"1gb-pages\"" ascii
        $rig = "\"rig-id\"" ascii
        $nicehash = "\"nicehash\"" ascii
        $coin = /"coin" *: *"(monero|xmr)"/ nocase ascii
        $algo = /"algo" *: *"(rx\/0|cn\/r|rx\/wow|cn-heavy\/xhv)"/ ascii
        $banner = "XMRig/" ascii
    condition:
        3 of them
}

rule miner_pool_host
{
    meta:
        description = "The host name of a well-known Monero mining pool"
        severity = "high"
        reference = "https://miningpoolstats.stream/monero"
    strings:
        $p1 = "pool.minexmr.com" nocase ascii wide
        $p2 = "pool.supportxmr.com" nocase ascii wide
        $p3 = "xmr.pool.minergate.com" nocase ascii wide
        $p4 = "gulf.moneroocean.stream" nocase ascii wide
        $p5 = /xmr-[a-z]{2,4}[0-9]?\.nanopool\.org/ nocase ascii wide
        $p6 = "pool.hashvault.pro" nocase ascii wide
        $p7 = "xmrpool.eu" nocase ascii wide
        $p8 = /(auto|mine)\.c3pool\.(com|org)/ nocase ascii wide
        $p9 = "xmr.2miners.com" nocase ascii wide
        $p10 = "rx.unmineable.com" nocase ascii wide
        $p11 = "xmr.f2pool.com" nocase ascii wide
        $p12 = "monerohash.com" nocase ascii wide
    condition:
        any of them
}
