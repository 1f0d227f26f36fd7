enum PraxisProtocol {}
