//! Random choices for the seed, from one seeded generator so that a seed gives the same
//! events every time.

use super::data::{BROWSERS, USERS};
use app::entry::{Actor, ActorType};
use app::internal_event::system_actor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub struct Draw {
    pub rng: StdRng,
}

impl Draw {
    pub fn new(seed: u64) -> Self {
        Draw { rng: StdRng::seed_from_u64(seed) }
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.rng).unwrap_or(&items[0])
    }

    pub fn number(&mut self, range: std::ops::Range<u32>) -> u32 {
        self.rng.gen_range(range)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    pub fn user(&mut self) -> Actor {
        let i = self.rng.gen_range(0..USERS.len());
        Actor { kind: ActorType::User, id: format!("user-{}", 100 + i), name: USERS[i].to_owned() }
    }

    pub fn service(&self, name: &str) -> Actor {
        Actor { kind: ActorType::Service, id: format!("sp-{name}"), name: name.to_owned() }
    }

    pub fn system(&self) -> Actor {
        system_actor()
    }

    pub fn ip(&mut self) -> String {
        format!("10.{}.{}.{}", self.rng.gen_range(0..4), self.rng.gen_range(0..255), self.rng.gen_range(1..255))
    }

    pub fn browser(&mut self) -> String {
        self.pick(BROWSERS).to_owned()
    }
}
