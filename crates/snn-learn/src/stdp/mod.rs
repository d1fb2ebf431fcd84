//! STDP rules and unsupervised learning (being written: see the STDP issue). Exports nothing yet.
