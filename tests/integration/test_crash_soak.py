"""A light crash-safety soak (the full one is bench/soak): dunningd killed with SIGKILL at
random moments, eight times, while it opens 1,000 cases and sends their first email, with new
failures and payments arriving between the kills. Nothing is lost, nothing is sent twice beyond
the batch in flight at a kill, no email follows a recovery, and the ledger and the database
verify."""
import unittest

from crash_soak import BATCH, soak


class CrashSoak(unittest.TestCase):
    def test_kill_9_at_random_loses_no_step_and_repeats_only_the_batch_in_flight(self):
        kills = 8
        r = soak(steps=1000, kills=kills, seed=7, max_alive=1.0)
        # An invoice paid before the daemon read its failure opens no case: a few fewer.
        self.assertGreater(r["cases"], 900, r)
        self.assertEqual(r["lost"], 0, r)
        self.assertLessEqual(r["duplicates"], kills * BATCH, r)
        self.assertLessEqual(r["max_copies"], 2, r)
        self.assertEqual(r["mail_after_recovery"], 0, r)
        self.assertEqual(r["ledger_verify"], 0, r)
        self.assertEqual(r["integrity"], "ok", r)
        self.assertGreater(r["emails"], 0, r)


if __name__ == "__main__":
    unittest.main()
