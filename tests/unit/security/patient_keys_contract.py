"""The PatientKeys contract (engine/security/patient_keys.py), one suite for the in-memory keys
(tests/unit/security/test_patient_keys_memory.py) and PostgreSQL's (tests/integration/test_security_patient_keys.py).

Subclasses provide ``open_keys``: a factory whose every call is another handle (another process) on the same store,
wrapping with the provider given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.security.cipher import DataKey, reveal, seal
from engine.security.errors import (
    ErasedError,
    MasterKeyError,
    NotErasedError,
    RelationErasedError,
    RelationOwnerError,
    UnknownPatientKeyError,
)
from engine.security.patient_keys import PatientKeys, Shredded, relation_key_id
from engine.security.providers import FileKeyProvider, KeyProvider
from engine.security.secrets import add_master_key, create_key_file, default_key_file, load_key_file

OpenKeys = Callable[[KeyProvider], PatientKeys]
LI_FANG = "pt-3f9c2a71b04e8d56c1a0"
WANG_WEI = "pt-58be0d4417c29a6f3e11"
ZHAO_MIN = "pt-c07a5e9d21b84f36a9d2"
# Li Fang's daughter and husband, as her registration's NK1 segments recorded them (relation ids are hers alone)
DAUGHTER = "rel-5b0c9e2a7d41f386"
HUSBAND = "rel-e3a1f07c92d84b65"


class PatientKeysContract:
    @pytest.fixture
    def open_keys(self) -> OpenKeys:
        raise NotImplementedError

    @pytest.fixture
    def key_file(self, tmp_path: Path) -> Path:
        path = default_key_file(tmp_path / "data")
        create_key_file(path)
        return path

    @pytest.fixture
    def provider(self, key_file: Path) -> FileKeyProvider:
        return FileKeyProvider.load(key_file)

    def test_a_patient_gets_a_key_on_first_use_and_the_same_key_ever_after(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        intake = open_keys(provider)
        assert intake.existing(LI_FANG) is None

        key = intake.key_for(LI_FANG)

        assert key.epoch == 1 and len(key.secret) == 32
        assert intake.key_for(LI_FANG) == key
        # another process, e.g. the dispatcher, finds the same key
        dispatcher = open_keys(provider)
        assert dispatcher.existing(LI_FANG) == key
        assert dispatcher.key_at(LI_FANG, 1) == key
        assert not dispatcher.erased(LI_FANG)

    def test_each_patient_has_a_key_of_their_own(self, open_keys: OpenKeys, provider: KeyProvider) -> None:
        keys = open_keys(provider)
        assert keys.key_for(LI_FANG).secret != keys.key_for(WANG_WEI).secret

    def test_erasure_destroys_the_key_so_what_it_sealed_never_reveals_again(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        # Li Fang's phone is sealed at the intake; Wang Wei's too
        intake = open_keys(provider)
        phone = seal(intake.key_for(LI_FANG), "+8613884860701", LI_FANG, "contact.phone")
        other = seal(intake.key_for(WANG_WEI), "+8613501234567", WANG_WEI, "contact.phone")

        # She asks to be forgotten
        assert open_keys(provider).erase(LI_FANG) is True

        # No process can get her key back, nor make her a new one unasked
        reader = open_keys(provider)
        assert reader.erased(LI_FANG)
        assert reader.existing(LI_FANG) is None
        with pytest.raises(ErasedError, match=r"epoch 1\) was erased") as erased:
            reader.key_at(LI_FANG, 1)
        assert erased.value.patient_id == LI_FANG
        with pytest.raises(ErasedError):
            intake.key_for(LI_FANG)
        # Wang Wei is untouched
        assert reveal(reader.key_at(WANG_WEI, 1), other, WANG_WEI, "contact.phone") == "+8613501234567"
        assert phone.startswith("enc1:1:")

    def test_erasing_again_or_erasing_a_patient_never_seen_finds_no_key_and_keeps_them_erased(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        keys.key_for(LI_FANG)
        assert keys.erase(LI_FANG) is True
        assert keys.erase(LI_FANG) is False
        assert keys.erased(LI_FANG)

        # an erasure request that arrives before the patient's first event still holds when it arrives
        assert keys.erase(ZHAO_MIN) is False
        assert open_keys(provider).erased(ZHAO_MIN)
        with pytest.raises(ErasedError):
            open_keys(provider).key_for(ZHAO_MIN)

    def test_a_patient_who_returns_after_erasure_gets_a_new_epoch_and_the_old_values_stay_erased(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        old = keys.key_for(LI_FANG)
        old_name = seal(old, "李芳", LI_FANG, "name")
        keys.erase(LI_FANG)

        renewed = keys.renew(LI_FANG)

        assert renewed.epoch == 2 and renewed.secret != old.secret
        other = open_keys(provider)
        assert other.key_for(LI_FANG) == renewed == other.existing(LI_FANG)
        assert not other.erased(LI_FANG)
        with pytest.raises(ErasedError):
            other.key_at(LI_FANG, 1)
        assert old_name.startswith("enc1:1:")  # the token names epoch 1: never tried under epoch 2's key

        # and a second erasure ends epoch 2 as well
        assert other.erase(LI_FANG) is True
        with pytest.raises(ErasedError, match=r"epoch 2\)"):
            keys.key_at(LI_FANG, 2)

    def test_shredding_says_which_key_epoch_it_erased_whether_or_not_a_key_was_live(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        keys.key_for(LI_FANG)
        keys.erase(LI_FANG)
        keys.renew(LI_FANG)

        assert keys.shred(LI_FANG) == Shredded(had_key=True, epoch=2)
        assert open_keys(provider).shred(LI_FANG) == Shredded(had_key=False, epoch=2)  # careloop erase run again
        assert keys.shred(ZHAO_MIN) == Shredded(had_key=False, epoch=1)  # never seen: erased before their first event
        with pytest.raises(ErasedError):
            keys.key_for(ZHAO_MIN)

    def test_renewing_a_live_patient_or_one_never_seen_is_refused(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        live = keys.key_for(LI_FANG)
        with pytest.raises(NotErasedError, match="was not erased"):
            keys.renew(LI_FANG)
        with pytest.raises(NotErasedError):
            keys.renew(WANG_WEI)
        assert keys.key_for(LI_FANG) == live
        assert keys.existing(WANG_WEI) is None

    def test_a_key_epoch_never_made_is_unknown_not_erased(self, open_keys: OpenKeys, provider: KeyProvider) -> None:
        keys = open_keys(provider)
        with pytest.raises(UnknownPatientKeyError, match="epoch 1 was ever made"):
            keys.key_at(WANG_WEI, 1)
        keys.key_for(LI_FANG)
        with pytest.raises(UnknownPatientKeyError, match="epoch 2 was ever made"):
            keys.key_at(LI_FANG, 2)

    def test_rotation_rewraps_every_live_key_under_the_new_master_key_and_no_erased_one(
        self, open_keys: OpenKeys, provider: KeyProvider, key_file: Path
    ) -> None:
        # Given two live patients and an erased one, wrapped under m1
        keys = open_keys(provider)
        before = {p: keys.key_for(p) for p in (LI_FANG, WANG_WEI)}
        keys.key_for(ZHAO_MIN)
        keys.erase(ZHAO_MIN)

        # When m2 is added and made current, and the keys re-wrapped
        assert add_master_key(key_file) == "m2"
        rotated = FileKeyProvider.load(key_file)
        assert keys.rewrap_all(rotated) == 2

        # Then a provider that no longer holds m1 unwraps every live key, and the same data keys come back
        m2_only = FileKeyProvider({"m2": load_key_file(key_file).master_keys["m2"]}, "m2")
        after = open_keys(m2_only)
        assert {p: after.key_for(p) for p in before} == before
        assert after.erased(ZHAO_MIN)
        with pytest.raises(ErasedError):
            after.key_for(ZHAO_MIN)
        # a new patient's key is wrapped under m2 from now on; nothing is left to re-wrap
        after.key_for("pt-0d1e2f3a4b5c6d7e8f90")
        assert after.rewrap_all(m2_only) == 0

    def test_a_key_wrapped_under_a_master_key_the_provider_does_not_hold_is_refused_by_name(
        self, open_keys: OpenKeys, provider: KeyProvider, tmp_path: Path
    ) -> None:
        open_keys(provider).key_for(LI_FANG)
        stranger = FileKeyProvider.from_secrets(create_key_file(tmp_path / "other" / "keys.json"))  # also "m1"
        with pytest.raises(MasterKeyError, match="does not unwrap under master key 'm1'"):
            open_keys(stranger).key_for(LI_FANG)
        renamed = FileKeyProvider({"m7": bytes(32)}, "m7")
        with pytest.raises(MasterKeyError, match=r"master key 'm1', which the key file does not hold \(it holds m7\)"):
            open_keys(renamed).existing(LI_FANG)

    def test_a_data_key_is_usable_as_it_comes(self, open_keys: OpenKeys, provider: KeyProvider) -> None:
        key: DataKey = open_keys(provider).key_for(WANG_WEI)
        token = seal(key, "王伟", WANG_WEI, "name")
        assert reveal(open_keys(provider).key_at(WANG_WEI, key.epoch), token, WANG_WEI, "name") == "王伟"

    # --- relation keys (issue 18): a relative's name and contact, under a key the patient owns -----------------

    def test_a_relative_gets_a_relation_key_of_their_own_owned_by_the_patient(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        intake = open_keys(provider)
        hers = intake.key_for(LI_FANG)

        daughter = intake.key_for_relation(LI_FANG, DAUGHTER)

        husband = intake.key_for_relation(LI_FANG, HUSBAND)
        assert daughter.epoch == 1 and len({daughter.secret, husband.secret, hers.secret}) == 3
        assert intake.key_for_relation(LI_FANG, DAUGHTER) == daughter
        # the dispatcher reveals the daughter's phone with the key of her row and the epoch the value names
        phone = seal(daughter, "+8613912345678", relation_key_id(DAUGHTER), "person.contact.phone")
        dispatcher = open_keys(provider)
        key = dispatcher.key_at(relation_key_id(DAUGHTER), 1)
        assert reveal(key, phone, relation_key_id(DAUGHTER), "person.contact.phone") == "+8613912345678"

    def test_another_patient_cannot_use_or_erase_a_relation_key_that_is_not_theirs(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        keys.key_for_relation(LI_FANG, DAUGHTER)
        with pytest.raises(RelationOwnerError, match="belongs to another patient") as refused:
            open_keys(provider).key_for_relation(WANG_WEI, DAUGHTER)
        assert refused.value.patient_id == WANG_WEI and WANG_WEI not in str(refused.value)
        with pytest.raises(RelationOwnerError):
            keys.shred_relation(WANG_WEI, DAUGHTER)
        assert keys.key_for_relation(LI_FANG, DAUGHTER).epoch == 1

    def test_shredding_a_patient_shreds_the_keys_of_their_relations(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        keys.key_for(LI_FANG)
        keys.key_for_relation(LI_FANG, DAUGHTER)
        keys.key_for_relation(LI_FANG, HUSBAND)
        keys.key_for_relation(WANG_WEI, "rel-0c4f7a9e1b2d3c58")

        assert open_keys(provider).shred(LI_FANG) == Shredded(had_key=True, epoch=1, relations=2)

        reader = open_keys(provider)
        for relation in (DAUGHTER, HUSBAND):
            with pytest.raises(ErasedError):
                reader.key_at(relation_key_id(relation), 1)
        # nothing is sealed for her relatives again, nor a new relative recorded for her
        with pytest.raises(ErasedError):
            reader.key_for_relation(LI_FANG, DAUGHTER)
        with pytest.raises(ErasedError):
            reader.key_for_relation(LI_FANG, "rel-7f7f7f7f7f7f7f7f")
        # Wang Wei's relative is untouched, and shredding her again destroys nothing more
        assert reader.key_for_relation(WANG_WEI, "rel-0c4f7a9e1b2d3c58").epoch == 1
        assert reader.shred(LI_FANG) == Shredded(had_key=False, epoch=1, relations=0)

    def test_erasing_one_relative_keeps_the_patient_and_the_other_relatives(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        hers = keys.key_for(LI_FANG)
        husband = keys.key_for_relation(LI_FANG, HUSBAND)
        keys.key_for_relation(LI_FANG, DAUGHTER)

        assert open_keys(provider).shred_relation(LI_FANG, DAUGHTER) == Shredded(had_key=True, epoch=1)

        reader = open_keys(provider)
        with pytest.raises(RelationErasedError, match="relation key") as erased:
            reader.key_for_relation(LI_FANG, DAUGHTER)
        assert erased.value.relation_id == DAUGHTER and DAUGHTER not in str(erased.value)
        assert reader.key_for(LI_FANG) == hers and reader.key_for_relation(LI_FANG, HUSBAND) == husband
        assert reader.shred_relation(LI_FANG, DAUGHTER) == Shredded(had_key=False, epoch=1)  # run again

    def test_a_relative_erased_before_their_first_record_is_never_given_a_key(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        keys = open_keys(provider)
        assert keys.shred_relation(LI_FANG, DAUGHTER) == Shredded(had_key=False, epoch=1)
        with pytest.raises(RelationErasedError):
            open_keys(provider).key_for_relation(LI_FANG, DAUGHTER)
        # and it stays hers: erasing the patient counts no live relation key
        assert keys.shred(LI_FANG).relations == 0
