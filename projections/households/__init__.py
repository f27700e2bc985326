"""Households: family doctor contracts (家庭医生签约) by household, one row per member and contract."""
