//! The mesh network-on-chip.
//!
//! Tiles form a `tiles_x * tiles_y` mesh with one router each; packets follow dimension-order
//! routing (all X hops, then all Y hops). Two models:
//!
//! * **Cycle-level** ([`NocMode::Cycle`]): a discrete-event simulation with integer-picosecond
//!   timestamps (a cycle-accurate simulation at 1 ps resolution that skips idle time). Each
//!   directed link carries one flit at a time (`flit_ns` per flit) and takes the hop latency of
//!   its direction; every router input port (one per incoming link and one per core/host
//!   injection port) buffers `router_buffer_depth` packets; a packet may start along a link only
//!   when that link is free and the next router's input buffer has a free slot (credit-based
//!   back-pressure), and it frees its own buffer slot when it leaves. Packets waiting for the
//!   same output link are served first come, first served (ties by packet order). Ejection into
//!   the destination core is immediate (cores queue arriving packets without limit). X-Y routing
//!   makes the channel-dependency graph acyclic, so the network cannot deadlock.
//! * **Analytic** ([`NocMode::Analytic`]): every packet takes its zero-load latency (hops times
//!   hop latency); link traffic is still counted. No contention.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

/// Which network-on-chip model a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NocMode {
    /// Hop-by-hop simulation with link contention, finite buffers and back-pressure.
    #[default]
    Cycle,
    /// Zero-load latencies, no contention (fast).
    Analytic,
}

/// A packet handed to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NocPacket {
    /// Time it is ready at its injection port (ps).
    pub emit_ps: u64,
    /// Injection port (a core index, or the host port).
    pub port: u32,
    /// Source tile.
    pub src_tile: u32,
    /// Destination tile.
    pub dst_tile: u32,
}

const EAST: usize = 0;
const WEST: usize = 1;
const NORTH: usize = 2;
const SOUTH: usize = 3;

/// The mesh and its state.
#[derive(Debug, Clone)]
pub struct Mesh {
    tx: u32,
    ty: u32,
    hop_ps: [u64; 2],
    ser_ps: [u64; 2],
    depth: u32,
    /// Tiles of one chip `[x, y]` (links between chips cross these boundaries).
    chip_tiles: [u32; 2],
    /// Chip-to-chip link latency and per-packet time (ps) per axis.
    link_ps: [u64; 2],
    link_ser_ps: [u64; 2],
    /// Packets carried per directed link (`tile * 4 + direction`), cumulative.
    pub link_packets: Vec<u64>,
    // Cycle-model state (reused between calls).
    link_free: Vec<u64>,
    credits: Vec<u32>,
    out_q: Vec<VecDeque<u32>>,
    try_pending: Vec<bool>,
    inj_q: Vec<VecDeque<u32>>,
    inj_credits: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u64, u8, u32)>>,
    /// Injections of the current call, `(emit_ps, packet)` sorted.
    inj_order: Vec<(u64, u32)>,
    buf: Vec<Buf>,
    at: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
enum Buf {
    None,
    Link(u32),
    Inject(u32),
}

const EV_INJECT: u8 = 0;
const EV_ARRIVE: u8 = 1;
const EV_TRY: u8 = 2;
const EV_INJTRY: u8 = 3;

impl Mesh {
    /// A mesh of `tx * ty` tiles with `ports` injection ports. Latencies and the per-flit link
    /// time are in ps per direction `[east_west, north_south]`; `flits` per packet. Allocates
    /// per link and per port ([`crate::memory::mesh_bytes`] estimates it; [`crate::Chip::new`]
    /// checks it against the budget first).
    pub fn new(
        tx: u32,
        ty: u32,
        hop_ps: [u64; 2],
        flit_ps: [u64; 2],
        flits: u32,
        depth: u32,
        ports: u32,
    ) -> Self {
        let nl = (tx as usize).saturating_mul(ty as usize).saturating_mul(4);
        Self {
            tx,
            ty,
            hop_ps,
            ser_ps: [
                flit_ps[0].saturating_mul(flits as u64),
                flit_ps[1].saturating_mul(flits as u64),
            ],
            depth,
            chip_tiles: [tx, ty],
            link_ps: hop_ps,
            link_ser_ps: [
                flit_ps[0].saturating_mul(flits as u64),
                flit_ps[1].saturating_mul(flits as u64),
            ],
            link_packets: vec![0; nl],
            link_free: vec![0; nl],
            credits: vec![depth; nl],
            out_q: vec![VecDeque::new(); nl],
            try_pending: vec![false; nl],
            inj_q: vec![VecDeque::new(); ports as usize],
            inj_credits: vec![depth; ports as usize],
            heap: BinaryHeap::new(),
            inj_order: Vec::new(),
            buf: Vec::new(),
            at: Vec::new(),
        }
    }

    /// Makes the mesh a system of chips of `chip_tiles` tiles each: a hop across a chip
    /// boundary takes `link_ps` (per axis, east-west and north-south) and occupies the link for
    /// `link_packet_ps` per packet.
    pub fn with_chips(
        mut self,
        chip_tiles: [u32; 2],
        link_ps: [u64; 2],
        link_packet_ps: [u64; 2],
    ) -> Self {
        self.chip_tiles = [chip_tiles[0].max(1), chip_tiles[1].max(1)];
        self.link_ps = link_ps;
        self.link_ser_ps = link_packet_ps;
        self
    }

    /// Tiles of one chip `[x, y]`.
    pub fn chip_tiles(&self) -> [u32; 2] {
        self.chip_tiles
    }

    /// True when the link from tile `t` in direction `d` joins two chips.
    #[inline]
    fn crosses(&self, t: u32, d: usize) -> bool {
        let (x, y) = self.xy(t);
        let [cx, cy] = self.chip_tiles;
        match d {
            EAST => (x + 1).is_multiple_of(cx),
            WEST => x.is_multiple_of(cx),
            NORTH => (y + 1).is_multiple_of(cy),
            _ => y.is_multiple_of(cy),
        }
    }

    /// `(on-chip east-west, on-chip north-south, chip-to-chip east-west, chip-to-chip
    /// north-south)` hops between two tiles.
    pub fn hops_split(&self, a: u32, b: u32) -> (u32, u32, u32, u32) {
        let (ax, ay) = self.xy(a);
        let (bx, by) = self.xy(b);
        let [cx, cy] = self.chip_tiles;
        let lx = (ax / cx).abs_diff(bx / cx);
        let ly = (ay / cy).abs_diff(by / cy);
        (ax.abs_diff(bx) - lx, ay.abs_diff(by) - ly, lx, ly)
    }

    /// Tile index of `[x, y]`.
    pub fn tile(&self, x: u32, y: u32) -> u32 {
        y * self.tx + x
    }

    #[inline]
    fn xy(&self, t: u32) -> (u32, u32) {
        (t % self.tx, t / self.tx)
    }

    /// `(east-west hops, north-south hops)` between two tiles.
    pub fn hops(&self, a: u32, b: u32) -> (u32, u32) {
        let (ax, ay) = self.xy(a);
        let (bx, by) = self.xy(b);
        (ax.abs_diff(bx), ay.abs_diff(by))
    }

    /// Zero-load latency between two tiles (ps).
    pub fn zero_load_ps(&self, a: u32, b: u32) -> u64 {
        let (h, v, lh, lv) = self.hops_split(a, b);
        (h as u64)
            .saturating_mul(self.hop_ps[0])
            .saturating_add((v as u64).saturating_mul(self.hop_ps[1]))
            .saturating_add((lh as u64).saturating_mul(self.link_ps[0]))
            .saturating_add((lv as u64).saturating_mul(self.link_ps[1]))
    }

    /// Next direction from tile `t` towards `dst` (X first), or `None` when arrived.
    #[inline]
    fn route(&self, t: u32, dst: u32) -> Option<usize> {
        let (x, y) = self.xy(t);
        let (dx, dy) = self.xy(dst);
        if x < dx {
            Some(EAST)
        } else if x > dx {
            Some(WEST)
        } else if y < dy {
            Some(NORTH)
        } else if y > dy {
            Some(SOUTH)
        } else {
            None
        }
    }

    #[inline]
    fn neighbour(&self, t: u32, dir: usize) -> u32 {
        match dir {
            EAST => t + 1,
            WEST => t - 1,
            NORTH => t + self.tx,
            _ => t - self.tx,
        }
    }

    /// Analytic mode: arrival times are zero-load; link counts are updated.
    pub fn run_analytic(&mut self, pk: &[NocPacket], arrive: &mut Vec<u64>) {
        arrive.clear();
        for p in pk {
            let mut t = p.src_tile;
            while let Some(d) = self.route(t, p.dst_tile) {
                self.link_packets[(t * 4) as usize + d] += 1;
                t = self.neighbour(t, d);
            }
            arrive.push(
                p.emit_ps
                    .saturating_add(self.zero_load_ps(p.src_tile, p.dst_tile)),
            );
        }
    }

    /// Cycle-level mode: simulates all packets to delivery; `arrive[i]` is packet `i`'s arrival
    /// time at its destination router (ps). Every packet is delivered exactly once.
    pub fn run_cycle(&mut self, pk: &[NocPacket], arrive: &mut Vec<u64>) {
        arrive.clear();
        arrive.resize(pk.len(), u64::MAX);
        if pk.is_empty() {
            return;
        }
        self.buf.clear();
        self.buf.resize(pk.len(), Buf::None);
        self.at.clear();
        self.at.extend(pk.iter().map(|p| p.src_tile));
        self.heap.clear();
        self.link_free.fill(0);
        // Injections are events `(emit_ps, i)` with sequence numbers `0..n` (packet order); every
        // later event gets a sequence number from `n` on. Rather than pushing all `n` injections
        // into the heap (which then holds thousands of events), they are sorted once and merged
        // with the heap by the same `(time, sequence)` key: the events are taken in exactly the
        // order a heap holding them all would give, and the heap only holds packets in flight.
        self.inj_order.clear();
        self.inj_order
            .extend(pk.iter().enumerate().map(|(i, p)| (p.emit_ps, i as u32)));
        self.inj_order.sort_unstable();
        let mut seq = pk.len() as u64;
        let mut next_inj = 0usize;
        loop {
            let inj = self.inj_order.get(next_inj).copied();
            let take_inj = match (inj, self.heap.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((t, i)), Some(Reverse((ht, hs, _, _)))) => (t, i as u64) < (*ht, *hs),
            };
            let (now, kind, id) = if take_inj {
                next_inj += 1;
                let (t, i) = inj.expect("an injection is next");
                (t, EV_INJECT, i)
            } else {
                let Some(Reverse((t, _, k, i))) = self.heap.pop() else {
                    break;
                };
                (t, k, i)
            };
            match kind {
                EV_INJECT => {
                    let port = pk[id as usize].port as usize;
                    self.inj_q[port].push_back(id);
                    self.try_inject(port, now, pk, arrive, &mut seq);
                }
                EV_ARRIVE => self.arrive(id, now, pk, arrive, &mut seq),
                EV_INJTRY => self.try_inject(id as usize, now, pk, arrive, &mut seq),
                _ => {
                    self.try_pending[id as usize] = false;
                    self.try_link(id as usize, now, &mut seq);
                }
            }
        }
        debug_assert!(self.credits.iter().all(|&c| c == self.depth));
    }

    fn try_inject(
        &mut self,
        port: usize,
        now: u64,
        pk: &[NocPacket],
        arrive: &mut [u64],
        seq: &mut u64,
    ) {
        while self.inj_credits[port] > 0 {
            let Some(id) = self.inj_q[port].pop_front() else {
                break;
            };
            self.inj_credits[port] -= 1;
            self.buf[id as usize] = Buf::Inject(port as u32);
            self.arrive(id, now, pk, arrive, seq);
        }
    }

    /// Packet `id` is now buffered at router `self.at[id]`.
    fn arrive(&mut self, id: u32, now: u64, pk: &[NocPacket], arrive: &mut [u64], seq: &mut u64) {
        let t = self.at[id as usize];
        match self.route(t, pk[id as usize].dst_tile) {
            None => {
                arrive[id as usize] = now;
                self.release(id, now, seq);
            }
            Some(d) => {
                let l = (t * 4) as usize + d;
                self.out_q[l].push_back(id);
                self.try_link(l, now, seq);
            }
        }
    }

    /// Frees the buffer slot packet `id` holds and wakes whoever waits for it.
    fn release(&mut self, id: u32, now: u64, seq: &mut u64) {
        match std::mem::replace(&mut self.buf[id as usize], Buf::None) {
            Buf::Link(l) => {
                self.credits[l as usize] += 1;
                self.schedule_try(l as usize, now, seq);
            }
            Buf::Inject(port) => {
                self.inj_credits[port as usize] += 1;
                if !self.inj_q[port as usize].is_empty() {
                    self.heap.push(Reverse((now, *seq, EV_INJTRY, port)));
                    *seq += 1;
                }
            }
            Buf::None => {}
        }
    }

    fn schedule_try(&mut self, l: usize, at: u64, seq: &mut u64) {
        if !self.try_pending[l] && !self.out_q[l].is_empty() {
            self.try_pending[l] = true;
            self.heap.push(Reverse((at, *seq, EV_TRY, l as u32)));
            *seq += 1;
        }
    }

    fn try_link(&mut self, l: usize, now: u64, seq: &mut u64) {
        if self.out_q[l].is_empty() {
            return;
        }
        if self.link_free[l] > now {
            let at = self.link_free[l];
            self.schedule_try(l, at, seq);
            return;
        }
        if self.credits[l] == 0 {
            return; // woken by the credit's return
        }
        let id = self.out_q[l].pop_front().expect("non-empty");
        let d = l % 4;
        let axis = (d >= NORTH) as usize;
        let t = self.at[id as usize];
        let (hop, ser) = if self.crosses(t, d) {
            (self.link_ps[axis], self.link_ser_ps[axis])
        } else {
            (self.hop_ps[axis], self.ser_ps[axis])
        };
        self.credits[l] -= 1;
        self.link_free[l] = now.saturating_add(ser);
        self.link_packets[l] += 1;
        // Leaving the current buffer returns its credit upstream.
        self.release(id, now, seq);
        self.buf[id as usize] = Buf::Link(l as u32);
        self.at[id as usize] = self.neighbour(t, d);
        self.heap
            .push(Reverse((now.saturating_add(hop), *seq, EV_ARRIVE, id)));
        *seq += 1;
        if !self.out_q[l].is_empty() {
            let at = self.link_free[l];
            self.schedule_try(l, at, seq);
        }
    }

    /// Number of directed links.
    pub fn n_links(&self) -> usize {
        self.link_packets.len()
    }

    /// Mesh size.
    pub fn dims(&self) -> (u32, u32) {
        (self.tx, self.ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two chips of 2x1 tiles side by side: the middle hop is a chip-to-chip link.
    fn two_chips() -> Mesh {
        Mesh::new(4, 1, [1000, 2000], [100, 100], 1, 4, 2).with_chips(
            [2, 1],
            [5000, 6000],
            [700, 700],
        )
    }

    #[test]
    fn a_hop_across_chips_takes_the_link() {
        let mut m = two_chips();
        assert_eq!(m.hops_split(0, 3), (2, 0, 1, 0));
        assert_eq!(m.hops_split(0, 1), (1, 0, 0, 0));
        assert_eq!(m.zero_load_ps(0, 3), 1000 + 5000 + 1000);
        let pk = [NocPacket {
            emit_ps: 10,
            port: 0,
            src_tile: 0,
            dst_tile: 3,
        }];
        let mut arrive = Vec::new();
        m.run_cycle(&pk, &mut arrive);
        assert_eq!(arrive, vec![10 + 7000]);
        m.run_analytic(&pk, &mut arrive);
        assert_eq!(arrive, vec![10 + 7000]);
    }

    #[test]
    fn a_chip_link_serialises_packets_at_its_own_rate() {
        // Two packets ready at once from tile 1 to tile 2 (one link hop): the second leaves
        // when the link is free again, 700 ps later.
        let mut m = two_chips();
        let p = NocPacket {
            emit_ps: 0,
            port: 0,
            src_tile: 1,
            dst_tile: 2,
        };
        let mut arrive = Vec::new();
        m.run_cycle(&[p, NocPacket { port: 1, ..p }], &mut arrive);
        arrive.sort_unstable();
        assert_eq!(arrive, vec![5000, 5700]);
    }
}
