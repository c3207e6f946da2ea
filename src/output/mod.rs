//! Stage 6, files: the atomic replacement of the output (and state) file,
//! and the bounded reads of files an operator names. Everything that
//! touches a path planet does not own goes through here.

pub mod lock;
pub mod read;
pub mod textfile;
