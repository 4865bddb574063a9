"""Store → output folder: where every document lives (layout), feeds, the HTML site, staging."""
