//! One module per subcommand.

pub mod data;
pub mod eval;
pub mod inspect;
pub mod predict;
pub mod pretrain;
pub mod reproduce;
pub mod train;
