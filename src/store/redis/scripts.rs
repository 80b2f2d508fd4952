//! The Lua scripts, each `lua/common.lua` followed by its own file, built
//! once per store and run with `EVALSHA` (reloaded on `NOSCRIPT` by
//! `redis::Script`). The calling convention they share is at the top of
//! `lua/common.lua`; `RedisStore::invocation` is its Rust side.

use redis::Script;

pub(super) struct Scripts {
    pub update_location: Script,
    pub update_locations: Script,
    pub go_offline: Script,
    pub nearby: Script,
    pub create_ride: Script,
    pub try_match: Script,
    pub answer_offer: Script,
    pub advance: Script,
    pub expire_ride: Script,
    pub adopt: Script,
    pub sweep: Script,
}

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            "\n",
            include_str!(concat!("lua/", $file))
        ))
    };
}

impl Scripts {
    pub(super) fn load() -> Self {
        Self {
            update_location: script!("update_location.lua"),
            update_locations: script!("update_locations.lua"),
            go_offline: script!("go_offline.lua"),
            nearby: script!("nearby.lua"),
            create_ride: script!("create_ride.lua"),
            try_match: script!("try_match.lua"),
            answer_offer: script!("answer_offer.lua"),
            advance: script!("advance.lua"),
            expire_ride: script!("expire_ride.lua"),
            adopt: script!("adopt.lua"),
            sweep: script!("sweep.lua"),
        }
    }
}
