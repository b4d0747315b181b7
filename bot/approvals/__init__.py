"""What an approval is and who may decide it: the record and its public JSON, the rule frozen
with it, the pure decision policy, the card view, and the sentences the bot says. No I/O."""
