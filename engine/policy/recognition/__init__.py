"""推荐申报: the yearly recognition batch (recognition_batch), its outcomes in the registry and the expiry reminder."""
