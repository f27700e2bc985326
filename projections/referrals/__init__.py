"""The referrals read model: who holds which referral code, and each referral between two patients."""
