"""The loyalty desk (issue 17): a member's balance and ledger from the read models, and redemptions and manual
adjustments published as inputs whose decision (the journey core's) it waits for. Used by `careloop loyalty` and
`careloop loyalty-api`; wired by engine/processes/loyalty.py."""
