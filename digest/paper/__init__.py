"""Page text → articles: decoding, text repair, bylines and datelines, segmentation, a paper's conventions.

Pure functions over text: no clock, no files, no database."""
