"""Microsoft Teams over the Bot Framework: the only package that imports botbuilder.

botbuilder-core is archived upstream (its successor, the Microsoft 365 Agents SDK, speaks the
same wire protocol), so every botbuilder/botframework import stays inside this folder: swapping
the SDK is then this folder's work and nobody else's.
"""
