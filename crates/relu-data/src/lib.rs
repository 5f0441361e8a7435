//! `relu-data`: the datasets of Glorot, Bordes & Bengio (2011), "Deep Sparse Rectifier Neural
//! Networks", loaded so that people can trust them.
//!
//! * Images — [`idx`] (any IDX file), [`mnist`] (and Fashion-MNIST & co.), [`cifar`] (CIFAR-10
//!   binary), [`norb`] (small NORB) — load into relu-core's [`Dataset`] (re-exported here), the
//!   one dataset type relu-nn trains on: dense `features × examples` pixels in `[0, 1]` (one
//!   example per column) with class targets. A file loads as an [`ImageSet`], a distribution as
//!   [`TrainTest`], and each loader has a `paper_splits` helper giving [`Splits`]; these carry the
//!   class count and the example shape beside the datasets. [`Scaling`] offers `[0, 1]`,
//!   `[−1, 1]` and standardisation fitted on the training set only.
//! * Text — [`text`]: TSV, JSON Lines and Blitzer's `processed_acl` readers, a Unicode tokeniser,
//!   a vocabulary learned on the training split, and binary / count / tf-idf features emitted as a
//!   [`relu_core::SparseBatch`] (in a [`Dataset`] with class targets); targets for polarity, star
//!   ratings and multi-class labels; [`text::folds`] for the paper's 10-fold cross-validation with
//!   the vectorizer refitted on each fold's training part, and [`text::holdout`].
//! * [`mnist_embedded`] (default feature `embedded-mnist`): 22,000 real MNIST digits compiled in,
//!   so training works offline on a fresh machine.
//! * [`fetch`]: verified, resumable downloads of MNIST, CIFAR-10 and small NORB.
//! * [`svmlight`]: sparse examples written in the svmlight / libsvm text format.
//!
//! Every parser reads untrusted bytes: malformed input gives a [`DataError`] naming the file, the
//! byte offset or line, and what was expected — never a panic, and never an allocation larger than
//! the input can fill. Sizes are bounded too: 1 GiB of decompressed payload per file, 2 GiB of
//! `f32` features per matrix (enough for full-resolution small NORB), 16 MiB per text line.
//!
//! # Example
//! ```
//! # #[cfg(feature = "embedded-mnist")] {
//! use relu_data::{Scaling, mnist_embedded};
//!
//! let mut splits = mnist_embedded()?;
//! assert_eq!((splits.train.inputs.dim(), splits.train.len()), (784, 18_000));
//! assert_eq!((splits.num_classes, splits.shape.as_slice()), (10, &[28, 28][..]));
//! assert_eq!(splits.test.len(), 2_000);
//! assert_eq!(&splits.train.targets.classes().unwrap()[..5], &[5, 0, 4, 1, 9]);
//! // Standardise with statistics of the training set only.
//! let _scaler = splits.scale(Scaling::Standardize)?;
//! # }
//! # Ok::<(), relu_data::DataError>(())
//! ```
#![deny(missing_docs)]

pub mod cifar;
mod dataset;
#[cfg(feature = "embedded-mnist")]
mod embedded;
mod error;
pub mod fetch;
pub mod idx;
mod io;
pub mod mnist;
pub mod norb;
mod scale;
pub mod split;
pub mod svmlight;
pub mod text;

pub use dataset::{ImageSet, Splits, TrainTest};
#[cfg(feature = "embedded-mnist")]
pub use embedded::{EMBEDDED_TEST_LEN, EMBEDDED_TRAIN_LEN, EMBEDDED_VALID_LEN, mnist_embedded};
pub use error::{DataError, Result};
pub use relu_core::Dataset;
pub use scale::{Scaler, Scaling};
