//! planet's integration tests: the built binary against real sockets, real
//! processes and real tools, one file per part of the contract. Each reads
//! as a usage example; [`testenv`] holds what they share.

mod testenv;

mod bounds;
mod collectors;
mod containers;
mod dependencies;
mod faults;
mod graph;
mod graph_flags;
mod graph_history;
mod graph_join;
mod graph_picture;
mod graph_picture_diff;
mod graph_picture_hostile;
mod graph_prometheus;
mod graph_proxy;
mod graph_requests;
mod graph_store;
mod graph_workloads;
mod hardening;
mod health;
mod hostile;
mod input;
mod names;
mod naming;
mod output;
mod packaging;
mod promql;
mod serving;
mod state;
mod wrap;
