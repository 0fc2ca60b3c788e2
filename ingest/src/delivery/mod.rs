//! The Firehose-like delivery stage: reads the stream as a named consumer, computes output,
//! buffers by size and time, gzips and stores batches as objects. (Built in issue 4.)
