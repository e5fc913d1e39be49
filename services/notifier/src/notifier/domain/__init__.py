"""The notifier's pure core: which e-mail a fact calls for, and how its parts are worded."""
