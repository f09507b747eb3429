//! The scripted expert: grid path planning on ground truth ([`planner`]), then smooth path
//! following and answering from ground truth ([`policy`]), keeping clear of the objects that
//! failure conditions name ([`hazard`]).

pub mod hazard;
pub mod planner;
pub mod policy;

pub use planner::unreachable_role;
pub use policy::{expert_action, expert_decision, has_expert};
